#version 450
// rms_norm and layer_norm over the last dim; f32 accumulation, layer_norm's variance from a
// second pass over the row (no E[x^2]-E[x]^2 cancellation).
// PHASE 0: one workgroup per row. Rows too long for one invocation's loop budget (llvmpipe)
// take PHASE 1, a workgroup per (chunk, row) writing the chunk's (count, mean, sum of squared
// deviations), then PHASE 2, a workgroup per (chunk, row) that folds the row's chunks in order
// (Chan et al.'s pairwise update) and writes its chunk.
#include "common.glsl"
#include "row_reduce.glsl"
layout(local_size_x = 128) in;
layout(constant_id = 0) const uint PHASE = 0;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer W { uint w[]; } tw;
layout(std430, binding = 2) buffer Bi { uint w[]; } tb;
layout(std430, binding = 3) buffer O { uint w[]; } to;
layout(std430, binding = 4) buffer P { float v[]; } part;  // [row of dispatch][chunk][3]
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(tw)
PORTA_TENSOR_IO(tb)
PORTA_TENSOR_IO(to)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_NORM_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

uint ex, ew, eb, eo;

void write_range(uint bx, uint bo, uint i0, uint i1, float mean, float inv) {
  const uint t = gl_LocalInvocationID.x;
  for (uint i = i0 + t; i < i1; i += ROW_THREADS) {
    const float w = tw_load(pc.dt_w, pc.off_w + i * pc.sw * ew);
    float v = (tx_load(pc.dt_x, bx + i * pc.sx.w * ex) - mean) * inv * w;
    if (pc.has_bias != 0u) v += tb_load(pc.dt_b, pc.off_b + i * pc.sb * eb);
    to_store(pc.dt_o, bo + i * pc.so.w * eo, v);
  }
}

// (mean, sum of squared deviations) of elements [i0, i1) of the row at bx; mean 0 for rms_norm.
vec2 moments(uint bx, uint i0, uint i1) {
  const uint t = gl_LocalInvocationID.x;
  float mean = 0.0;
  if (pc.layer != 0u) {
    float s = 0.0;
    for (uint i = i0 + t; i < i1; i += ROW_THREADS) s += tx_load(pc.dt_x, bx + i * pc.sx.w * ex);
    mean = row_sum(s) / float(i1 - i0);
  }
  float ss = 0.0;
  for (uint i = i0 + t; i < i1; i += ROW_THREADS) {
    const float v = tx_load(pc.dt_x, bx + i * pc.sx.w * ex) - mean;
    ss += v * v;
  }
  return vec2(mean, row_sum(ss));
}

void main() {
  const uint D = pc.shape.w;
  ex = dt_size(pc.dt_x), eo = dt_size(pc.dt_o), ew = dt_size(pc.dt_w), eb = dt_size(pc.dt_b);
  if (PHASE == 0u) {
    for (uint r = pc.row0 + gl_WorkGroupID.x; r < pc.row_end; r += gl_NumWorkGroups.x) {
      const uint bx = pc.off_x + row_start(r, pc.shape, pc.sx) * ex;
      const vec2 m = moments(bx, 0u, D);
      write_range(bx, pc.off_o + row_start(r, pc.shape, pc.so) * eo, 0u, D, m.x, 1.0 / sqrt(m.y / float(D) + pc.eps));
    }
    return;
  }
  const uint r = pc.row0 + gl_WorkGroupID.y;
  const uint bx = pc.off_x + row_start(r, pc.shape, pc.sx) * ex;
  const uint prow = gl_WorkGroupID.y * pc.nchunks * 3u;
  {
    const uint c = pc.c0 + gl_WorkGroupID.x;  // one chunk per workgroup: no loop adds to its count
    if (c >= pc.nchunks) return;
    const uint i0 = c * pc.chunk, i1 = min(D, i0 + pc.chunk);
    if (PHASE == 1u) {
      const vec2 m = moments(bx, i0, i1);
      if (gl_LocalInvocationID.x == 0u) {
        part.v[prow + 3u * c] = float(i1 - i0);
        part.v[prow + 3u * c + 1u] = m.x;
        part.v[prow + 3u * c + 2u] = m.y;
      }
    } else {
      float n = 0.0, mean = 0.0, m2 = 0.0;  // every invocation folds the same chunks in order
      for (uint k = 0u; k < pc.nchunks; ++k) {
        const float nb = part.v[prow + 3u * k], delta = part.v[prow + 3u * k + 1u] - mean;
        const float nn = n + nb;
        mean += delta * (nb / nn);
        m2 += part.v[prow + 3u * k + 2u] + delta * delta * (n * nb / nn);
        n = nn;
      }
      write_range(bx, pc.off_o + row_start(r, pc.shape, pc.so) * eo, i0, i1, mean,
                  1.0 / sqrt(m2 / float(D) + pc.eps));
    }
  }
}
