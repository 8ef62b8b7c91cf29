// rope (rope.comp). Each frequency / 2pi goes to the device as a 64-bit binary fraction
// computed in double on the host, so the shader can reduce angles exactly with integers.
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {

void op_rope(VulkanQueue& q, const RopeArgs& a) {
  const char* op = "rope";
  const int half = a.rotary_dim / 2;
  std::vector<uint32_t> table(static_cast<size_t>(2 * std::max(half, 1)), 0u);
  for (int i = 0; i < half; ++i) {
    const double inv_freq = std::pow(static_cast<double>(a.theta), -2.0 * i / a.rotary_dim) /
                            (a.freq_factors ? static_cast<double>(a.freq_factors[i]) : 1.0);
    const double turns = inv_freq / (2 * M_PI);  // < 1: the integer part is always 0
    const double hi = std::floor(std::ldexp(turns, 32));
    const double lo = std::floor(std::ldexp(std::ldexp(turns, 32) - hi, 32));
    table[2 * i] = static_cast<uint32_t>(hi);
    table[2 * i + 1] = static_cast<uint32_t>(std::min(lo, 4294967295.0));
  }
  const VkDeviceSize bytes = table.size() * 4;
  Allocation t = q.scratch(bytes, "rope frequency table");
  if (t.mapped)
    std::memcpy(t.mapped, table.data(), bytes);  // fresh memory no queued work can touch
  else
    q.upload_to(t, 0, table.data(), bytes);

  RopePush pc{};
  const Dims4 x = dims4(a.x, op);
  std::memcpy(pc.shape, x.shape, sizeof pc.shape);
  std::memcpy(pc.sx, x.strides, sizeof pc.sx);
  strides4(a.out, pc.so, op);
  pc.sp_b = u32(a.positions.strides[0], op, "stride");
  pc.sp_s = u32(a.positions.strides[1], op, "stride");
  pc.off_x = u32(a.x.offset, op, "byte offset");
  pc.off_p = u32(a.positions.offset, op, "byte offset");
  pc.off_o = u32(a.out.offset, op, "byte offset");
  pc.dt_x = static_cast<uint32_t>(a.x.dtype);
  pc.dt_o = static_cast<uint32_t>(a.out.dtype);
  pc.half_rot = static_cast<uint32_t>(half);
  pc.neox = a.style == ops::RopeStyle::neox ? 1 : 0;
  const uint64_t total = static_cast<uint64_t>(a.x.numel() / std::max<int64_t>(a.x.shape[3], 1)) *
                         static_cast<uint64_t>(a.x.shape[3] - half);
  u32(static_cast<int64_t>(total), op, "work items");
  const Pipeline& p = q.device().pipelines().get("rope", 4, {});
  q.dispatch(p, {ref(a.x, false), ref(a.positions, false), ref(t, false), ref(a.out, true)}, &pc, sizeof pc,
             groups(q, total, 256));
}

}  // namespace porta::vk
