// argmax over the last dim (argmax.comp): one workgroup per row, rows in chunks the grid holds.
#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {

void op_argmax(VulkanQueue& q, const ArgmaxArgs& a) {
  const char* op = "argmax";
  ArgmaxPush pc{};
  pc.R = u32(a.x.shape[0], op, "rows");
  pc.C = u32(a.x.shape[1], op, "columns");
  pc.sx_r = u32(a.x.strides[0], op, "stride");
  pc.sx_c = u32(a.x.strides[1], op, "stride");
  pc.so_r = u32(a.out.strides[0], op, "stride");
  pc.off_x = u32(a.x.offset, op, "byte offset");
  pc.off_o = u32(a.out.offset, op, "byte offset");
  pc.dt = static_cast<uint32_t>(a.x.dtype);
  const uint32_t chunk = row_split_chunk(q.device(), op, pc.C, 64, 1, 1);
  if (chunk == 0) {
    const Pipeline& p = q.device().pipelines().get("argmax", 3, {0});
    for_row_chunks(q, pc.R, [&](uint32_t r0, uint32_t r1, uint32_t n) {
      pc.row0 = r0;
      pc.row_end = r1;
      // Binding 2 (the split path's chunk winners) is unused here: x stands in.
      q.dispatch(p, {ref(a.x, false), ref(a.out, true), ref(a.x, false)}, &pc, sizeof pc, n);
    });
    return;
  }
  pc.chunk = chunk;
  pc.nchunks = (pc.C + chunk - 1) / chunk;
  split_rows(q, pc.R, pc.nchunks, 8, [&](uint32_t r0, uint32_t n, const Allocation& part) {
    pc.row0 = r0;
    for_chunk_rounds(q, pc.nchunks, pc.c0, [&](uint32_t gx) {
      q.dispatch(q.device().pipelines().get("argmax", 3, {1}),
                 {ref(a.x, false), ref(a.out, false), ref(part, true)}, &pc, sizeof pc, gx, n);
    });
    q.dispatch(q.device().pipelines().get("argmax", 3, {2}),
               {ref(a.x, false), ref(a.out, true), ref(part, false)}, &pc, sizeof pc, 1, n);
  });
}

}  // namespace porta::vk
