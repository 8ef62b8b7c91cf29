#version 450
// rms_norm and layer_norm over the last dim, one workgroup per row; f32 accumulation,
// layer_norm's variance from a second pass over the row (no E[x^2]-E[x]^2 cancellation).
#include "common.glsl"
#include "row_reduce.glsl"
layout(local_size_x = 128) in;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer W { uint w[]; } tw;
layout(std430, binding = 2) buffer Bi { uint w[]; } tb;
layout(std430, binding = 3) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(tw)
PORTA_TENSOR_IO(tb)
PORTA_TENSOR_IO(to)
layout(push_constant) uniform PC {
  uvec4 shape;
  uvec4 sx, so;
  uint sw, sb, off_x, off_w, off_b, off_o;
  uint dt_x, dt_w, dt_b, dt_o;
  float eps;
  uint layer, has_bias;
  uint row0, row_end;  // this dispatch's rows
} pc;

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint D = pc.shape.w;
  const uint ex = dt_size(pc.dt_x), eo = dt_size(pc.dt_o), ew = dt_size(pc.dt_w), eb = dt_size(pc.dt_b);
  for (uint r = pc.row0 + gl_WorkGroupID.x; r < pc.row_end; r += gl_NumWorkGroups.x) {
    const uint bx = pc.off_x + row_start(r, pc.shape, pc.sx) * ex;
    const uint bo = pc.off_o + row_start(r, pc.shape, pc.so) * eo;
    float mean = 0.0;
    if (pc.layer != 0u) {
      float s = 0.0;
      for (uint i = t; i < D; i += ROW_THREADS) s += tx_load(pc.dt_x, bx + i * pc.sx.w * ex);
      mean = row_sum(s) / float(D);
    }
    float ss = 0.0;
    for (uint i = t; i < D; i += ROW_THREADS) {
      const float v = tx_load(pc.dt_x, bx + i * pc.sx.w * ex) - mean;
      ss += v * v;
    }
    const float inv = 1.0 / sqrt(row_sum(ss) / float(D) + pc.eps);
    for (uint i = t; i < D; i += ROW_THREADS) {
      const float w = tw_load(pc.dt_w, pc.off_w + i * pc.sw * ew);
      float v = (tx_load(pc.dt_x, bx + i * pc.sx.w * ex) - mean) * inv * w;
      if (pc.has_bias != 0u) v += tb_load(pc.dt_b, pc.off_b + i * pc.sb * eb);
      to_store(pc.dt_o, bo + i * pc.so.w * eo, v);
    }
  }
}
