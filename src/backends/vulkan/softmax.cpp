// softmax over the last dim with scale and an optional broadcast mask (softmax.comp).
#include <cstring>

#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {

void op_softmax(VulkanQueue& q, const SoftmaxArgs& a) {
  const char* op = "softmax";
  SoftmaxPush pc{};
  const Dims4 x = dims4(a.x, op);
  std::memcpy(pc.shape, x.shape, sizeof pc.shape);
  std::memcpy(pc.sx, x.strides, sizeof pc.sx);
  strides4(a.out, pc.so, op);
  pc.off_x = u32(a.x.offset, op, "byte offset");
  pc.off_o = u32(a.out.offset, op, "byte offset");
  pc.dt_x = static_cast<uint32_t>(a.x.dtype);
  pc.dt_o = static_cast<uint32_t>(a.out.dtype);
  pc.dt_m = pc.dt_x;
  pc.scale = a.scale;
  const TensorArg& mask = a.mask ? *a.mask : a.x;
  if (a.mask) {
    strides4(*a.mask, pc.sm, op);
    pc.off_m = u32(a.mask->offset, op, "byte offset");
    pc.dt_m = static_cast<uint32_t>(a.mask->dtype);
    pc.has_mask = 1;
  }
  const uint64_t rows = uint64_t{pc.shape[0]} * pc.shape[1] * pc.shape[2];
  const uint32_t chunk = row_split_chunk(q.device(), op, pc.shape[3], 128, 3, 2);  // max, sum, write
  if (chunk == 0) {
    const Pipeline& p = q.device().pipelines().get("softmax", 4, {0});
    for_row_chunks(q, rows, [&](uint32_t r0, uint32_t r1, uint32_t n) {
      pc.row0 = r0;
      pc.row_end = r1;
      // Binding 3 (the split path's statistics) is unused here: x stands in.
      q.dispatch(p, {ref(a.x, false), ref(mask, false), ref(a.out, true), ref(a.x, false)}, &pc, sizeof pc,
                 n);
    });
    return;
  }
  pc.chunk = chunk;
  pc.nchunks = (pc.shape[3] + chunk - 1) / chunk;
  split_rows(q, rows, pc.nchunks, 8, [&](uint32_t r0, uint32_t n, const Allocation& part) {
    pc.row0 = r0;
    for_chunk_rounds(q, pc.nchunks, pc.c0, [&](uint32_t gx) {
      q.dispatch(q.device().pipelines().get("softmax", 4, {1}),
                 {ref(a.x, false), ref(mask, false), ref(a.out, false), ref(part, true)}, &pc, sizeof pc, gx,
                 n);
    });
    for_chunk_rounds(q, pc.nchunks, pc.c0, [&](uint32_t gx) {
      q.dispatch(q.device().pipelines().get("softmax", 4, {2}),
                 {ref(a.x, false), ref(mask, false), ref(a.out, true), ref(part, false)}, &pc, sizeof pc, gx,
                 n);
    });
  });
}

}  // namespace porta::vk
