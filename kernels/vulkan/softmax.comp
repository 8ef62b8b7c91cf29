#version 450
// softmax over the last dim of scale*x + mask, one workgroup per row, in f32. A row whose
// every entry is -inf (fully masked) gives zeros.
#include "common.glsl"
#include "row_reduce.glsl"
layout(local_size_x = 128) in;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer M { uint w[]; } tm;
layout(std430, binding = 2) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(tm)
PORTA_TENSOR_IO(to)
layout(push_constant) uniform PC {
  uvec4 shape;
  uvec4 sx, sm, so;
  uint off_x, off_m, off_o;
  uint dt_x, dt_m, dt_o;
  float scale;
  uint has_mask;
  uint row0, row_end;  // this dispatch's rows
} pc;

float logit(uint bx, uint bm, uint i, uint ex, uint em) {
  float v = pc.scale * tx_load(pc.dt_x, bx + i * pc.sx.w * ex);
  if (pc.has_mask != 0u) v += tm_load(pc.dt_m, bm + i * pc.sm.w * em);
  return v;
}

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint D = pc.shape.w;
  const uint ex = dt_size(pc.dt_x), eo = dt_size(pc.dt_o), em = dt_size(pc.dt_m);
  const float neg_inf = uintBitsToFloat(0xff800000u);
  for (uint r = pc.row0 + gl_WorkGroupID.x; r < pc.row_end; r += gl_NumWorkGroups.x) {
    const uint bx = pc.off_x + row_start(r, pc.shape, pc.sx) * ex;
    const uint bm = pc.off_m + row_start(r, pc.shape, pc.sm) * em;
    const uint bo = pc.off_o + row_start(r, pc.shape, pc.so) * eo;
    float m = neg_inf;
    for (uint i = t; i < D; i += ROW_THREADS) m = max(m, logit(bx, bm, i, ex, em));
    m = row_max(m);
    float s = 0.0;
    if (m != neg_inf)
      for (uint i = t; i < D; i += ROW_THREADS) s += exp(logit(bx, bm, i, ex, em) - m);
    s = row_sum(s);
    for (uint i = t; i < D; i += ROW_THREADS) {
      const float v = m == neg_inf ? 0.0 : exp(logit(bx, bm, i, ex, em) - m) / s;
      to_store(pc.dt_o, bo + i * pc.so.w * eo, v);
    }
  }
}
