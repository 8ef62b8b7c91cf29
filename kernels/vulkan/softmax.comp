#version 450
// softmax over the last dim of scale*x + mask, in f32. A row whose every entry is -inf (fully
// masked) gives zeros.
// PHASE 0: one workgroup per row. Rows too long for one invocation's loop budget (llvmpipe)
// take PHASE 1, a workgroup per (chunk, row) writing the chunk's (max, sum of exp(x - max)),
// then PHASE 2, a workgroup per (chunk, row) that folds the row's chunks in order and writes
// its chunk.
#include "common.glsl"
#include "row_reduce.glsl"
layout(local_size_x = 128) in;
layout(constant_id = 0) const uint PHASE = 0;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer M { uint w[]; } tm;
layout(std430, binding = 2) buffer O { uint w[]; } to;
layout(std430, binding = 3) buffer P { float v[]; } part;  // [row of dispatch][chunk][2]
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(tm)
PORTA_TENSOR_IO(to)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_SOFTMAX_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

#define neg_inf uintBitsToFloat(0xff800000u)
uint ex, eo, em;

float logit(uint bx, uint bm, uint i) {
  float v = pc.scale * tx_load(pc.dt_x, bx + i * pc.sx.w * ex);
  if (pc.has_mask != 0u) v += tm_load(pc.dt_m, bm + i * pc.sm.w * em);
  return v;
}

// (max, sum of exp(logit - max)) over elements [i0, i1); (-inf, 0) when all are -inf.
vec2 stats(uint bx, uint bm, uint i0, uint i1) {
  const uint t = gl_LocalInvocationID.x;
  float m = neg_inf;
  for (uint i = i0 + t; i < i1; i += ROW_THREADS) m = max(m, logit(bx, bm, i));
  m = row_max(m);
  float s = 0.0;
  if (m != neg_inf)
    for (uint i = i0 + t; i < i1; i += ROW_THREADS) s += exp(logit(bx, bm, i) - m);
  return vec2(m, row_sum(s));
}

void write_range(uint bx, uint bm, uint bo, uint i0, uint i1, float m, float s) {
  const uint t = gl_LocalInvocationID.x;
  for (uint i = i0 + t; i < i1; i += ROW_THREADS) {
    const float v = m == neg_inf ? 0.0 : exp(logit(bx, bm, i) - m) / s;
    to_store(pc.dt_o, bo + i * pc.so.w * eo, v);
  }
}

void main() {
  const uint D = pc.shape.w;
  ex = dt_size(pc.dt_x), eo = dt_size(pc.dt_o), em = dt_size(pc.dt_m);
  if (PHASE == 0u) {
    for (uint r = pc.row0 + gl_WorkGroupID.x; r < pc.row_end; r += gl_NumWorkGroups.x) {
      const uint bx = pc.off_x + row_start(r, pc.shape, pc.sx) * ex;
      const uint bm = pc.off_m + row_start(r, pc.shape, pc.sm) * em;
      const vec2 st = stats(bx, bm, 0u, D);
      write_range(bx, bm, pc.off_o + row_start(r, pc.shape, pc.so) * eo, 0u, D, st.x, st.y);
    }
    return;
  }
  const uint r = pc.row0 + gl_WorkGroupID.y;
  const uint bx = pc.off_x + row_start(r, pc.shape, pc.sx) * ex;
  const uint bm = pc.off_m + row_start(r, pc.shape, pc.sm) * em;
  const uint prow = gl_WorkGroupID.y * pc.nchunks * 2u;
  {
    const uint c = pc.c0 + gl_WorkGroupID.x;  // one chunk per workgroup: no loop adds to its count
    if (c >= pc.nchunks) return;
    const uint i0 = c * pc.chunk, i1 = min(D, i0 + pc.chunk);
    if (PHASE == 1u) {
      const vec2 st = stats(bx, bm, i0, i1);
      if (gl_LocalInvocationID.x == 0u) {
        part.v[prow + 2u * c] = st.x;
        part.v[prow + 2u * c + 1u] = st.y;
      }
    } else {
      float m = neg_inf, s = 0.0;  // every invocation folds the same chunks in order
      for (uint k = 0u; k < pc.nchunks; ++k) {
        const float mk = part.v[prow + 2u * k], sk = part.v[prow + 2u * k + 1u];
        if (mk == neg_inf) continue;
        if (mk > m) {
          s = (m == neg_inf ? 0.0 : s * exp(m - mk)) + sk;
          m = mk;
        } else {
          s += sk * exp(mk - m);
        }
      }
      write_range(bx, bm, pc.off_o + row_start(r, pc.shape, pc.so) * eo, i0, i1, m, s);
    }
  }
}
