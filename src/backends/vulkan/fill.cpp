// fill: the element's bits are computed on the host with porta's own conversion, so the
// rounding of `value` matches every other backend exactly.
#include <cstring>

#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {

void op_fill(VulkanQueue& q, const FillArgs& a) {
  FillPush pc{};
  const Dims4 d = dims4(a.dst, "fill");
  std::memcpy(pc.shape, d.shape, sizeof pc.shape);
  std::memcpy(pc.strides, d.strides, sizeof pc.strides);
  pc.offset = u32(a.dst.offset, "fill", "byte offset");
  pc.n = u32(a.dst.numel(), "fill", "element count");
  pc.dt = static_cast<uint32_t>(a.dst.dtype);
  pc.contiguous = a.dst.contiguous() ? 1 : 0;
  unsigned char bytes[4] = {0, 0, 0, 0};
  store_from_double(a.dst.dtype, bytes, 0, a.value);
  std::memcpy(&pc.bits, bytes, 4);
  if (dtype_size(a.dst.dtype) == 2) pc.bits &= 0xffffu;
  if (dtype_size(a.dst.dtype) == 1) pc.bits &= 0xffu;
  const Pipeline& p = q.device().pipelines().get("fill", 1, {});
  q.dispatch(p, {ref(a.dst, true)}, &pc, sizeof pc, groups(q, pc.n, 256));
}

}  // namespace porta::vk
