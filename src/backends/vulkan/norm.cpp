// rms_norm and layer_norm (norm.comp): one workgroup per row, rows in chunks the grid holds.
#include <cstring>

#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {

void op_norm(VulkanQueue& q, const NormArgs& a, bool layer) {
  const char* op = layer ? "layer_norm" : "rms_norm";
  NormPush pc{};
  const Dims4 x = dims4(a.x, op);
  std::memcpy(pc.shape, x.shape, sizeof pc.shape);
  std::memcpy(pc.sx, x.strides, sizeof pc.sx);
  strides4(a.out, pc.so, op);
  pc.sw = u32(a.weight.strides[a.weight.rank - 1], op, "stride");
  pc.off_x = u32(a.x.offset, op, "byte offset");
  pc.off_w = u32(a.weight.offset, op, "byte offset");
  pc.off_o = u32(a.out.offset, op, "byte offset");
  pc.dt_x = static_cast<uint32_t>(a.x.dtype);
  pc.dt_w = static_cast<uint32_t>(a.weight.dtype);
  pc.dt_o = static_cast<uint32_t>(a.out.dtype);
  pc.dt_b = pc.dt_w;
  pc.eps = a.eps;
  pc.layer = layer ? 1 : 0;
  const TensorArg& bias = a.bias ? *a.bias : a.weight;
  if (a.bias) {
    pc.has_bias = 1;
    pc.sb = u32(a.bias->strides[a.bias->rank - 1], op, "stride");
    pc.off_b = u32(a.bias->offset, op, "byte offset");
    pc.dt_b = static_cast<uint32_t>(a.bias->dtype);
  }
  const uint64_t rows = uint64_t{pc.shape[0]} * pc.shape[1] * pc.shape[2];
  // layer_norm sweeps the row three times and reduces twice (rms_norm: two, one).
  const uint32_t chunk = row_split_chunk(q.device(), op, pc.shape[3], 128, layer ? 3 : 2, layer ? 2 : 1);
  if (chunk == 0) {
    const Pipeline& p = q.device().pipelines().get("norm", 5, {0});
    for_row_chunks(q, rows, [&](uint32_t r0, uint32_t r1, uint32_t n) {
      pc.row0 = r0;
      pc.row_end = r1;
      // Binding 4 (the split path's statistics) is unused here: x stands in.
      q.dispatch(p,
                 {ref(a.x, false), ref(a.weight, false), ref(bias, false), ref(a.out, true), ref(a.x, false)},
                 &pc, sizeof pc, n);
    });
    return;
  }
  pc.chunk = chunk;
  pc.nchunks = (pc.shape[3] + chunk - 1) / chunk;
  split_rows(q, rows, pc.nchunks, 12, [&](uint32_t r0, uint32_t n, const Allocation& part) {
    pc.row0 = r0;
    for_chunk_rounds(q, pc.nchunks, pc.c0, [&](uint32_t gx) {
      q.dispatch(
          q.device().pipelines().get("norm", 5, {1}),
          {ref(a.x, false), ref(a.weight, false), ref(bias, false), ref(a.out, false), ref(part, true)}, &pc,
          sizeof pc, gx, n);
    });
    for_chunk_rounds(q, pc.nchunks, pc.c0, [&](uint32_t gx) {
      q.dispatch(
          q.device().pipelines().get("norm", 5, {2}),
          {ref(a.x, false), ref(a.weight, false), ref(bias, false), ref(a.out, true), ref(part, false)}, &pc,
          sizeof pc, gx, n);
    });
  });
}

}  // namespace porta::vk
