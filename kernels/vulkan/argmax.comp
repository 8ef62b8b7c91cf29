#version 450
// argmax over the last dim: first index of the maximum; a NaN counts as larger than any
// number, so the first NaN wins (as numpy).
// PHASE 0: one workgroup per row. Rows too long for one invocation's loop budget (llvmpipe)
// take PHASE 1, a workgroup per (chunk, row) writing the chunk's winner (value bits, index),
// then PHASE 2, a workgroup per row whose first invocation folds the chunks in order.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint PHASE = 0;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer O { uint w[]; } to;
layout(std430, binding = 2) buffer P { uint w[]; } part;  // [row of dispatch][chunk][2]
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(to)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_ARGMAX_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

shared float s_val[64];
shared int s_ival[64];
shared uint s_idx[64];

// Whether (v, i) beats (bv, bi): NaN first, then larger, then lower index.
bool better_f(float v, uint i, float bv, uint bi) {
  const bool n = isnan(v), bn = isnan(bv);
  if (n || bn) return n && (!bn || i < bi);
  return v > bv || (v == bv && i < bi);
}
bool better_i(int v, uint i, int bv, uint bi) { return v > bv || (v == bv && i < bi); }

// The winner of columns [c0, c1) of `row`, in s_val/s_ival/s_idx[0] (index ~0u: none).
void best_of(uint row, uint c0, uint c1, bool ints) {
  const uint t = gl_LocalInvocationID.x;
  const uint es = dt_size(pc.dt);
  float bv = 0.0;
  int bint = 0;
  uint bi = 0xffffffffu;
  for (uint c = c0 + t; c < c1; c += 64u) {
    const uint addr = pc.off_x + (row * pc.sx_r + c * pc.sx_c) * es;
    if (ints) {
      const uint bits = tx_bits(pc.dt, addr);
      const int v = pc.dt == DT_I8 ? bitfieldExtract(int(bits), 0, 8) : int(bits);
      if (bi == 0xffffffffu || better_i(v, c, bint, bi)) bint = v, bi = c;
    } else {
      const float v = tx_load(pc.dt, addr);
      if (bi == 0xffffffffu || better_f(v, c, bv, bi)) bv = v, bi = c;
    }
  }
  s_val[t] = bv;
  s_ival[t] = bint;
  s_idx[t] = bi;
  barrier();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s && s_idx[t + s] != 0xffffffffu) {
      const bool take = s_idx[t] == 0xffffffffu ||
                        (ints ? better_i(s_ival[t + s], s_idx[t + s], s_ival[t], s_idx[t])
                              : better_f(s_val[t + s], s_idx[t + s], s_val[t], s_idx[t]));
      if (take) {
        s_val[t] = s_val[t + s];
        s_ival[t] = s_ival[t + s];
        s_idx[t] = s_idx[t + s];
      }
    }
    barrier();
  }
}

void main() {
  const uint t = gl_LocalInvocationID.x;
  const bool ints = pc.dt == DT_I32 || pc.dt == DT_I8;
  if (PHASE == 0u) {
    for (uint row = pc.row0 + gl_WorkGroupID.x; row < pc.row_end; row += gl_NumWorkGroups.x) {
      best_of(row, 0u, pc.C, ints);
      if (t == 0u)
        to_store_bits(DT_I32, pc.off_o + row * pc.so_r * 4u, s_idx[0] == 0xffffffffu ? 0u : s_idx[0]);
      barrier();
    }
    return;
  }
  const uint row = pc.row0 + gl_WorkGroupID.y;
  const uint prow = gl_WorkGroupID.y * pc.nchunks * 2u;
  if (PHASE == 1u) {
    const uint c = pc.c0 + gl_WorkGroupID.x;  // one chunk per workgroup: no loop adds to its count
    if (c >= pc.nchunks) return;
    best_of(row, c * pc.chunk, min(pc.C, c * pc.chunk + pc.chunk), ints);
    if (t == 0u) {
      part.w[prow + 2u * c] = ints ? uint(s_ival[0]) : floatBitsToUint(s_val[0]);
      part.w[prow + 2u * c + 1u] = s_idx[0];
    }
    return;
  }
  if (t != 0u || gl_WorkGroupID.x != 0u) return;
  float bv = 0.0;
  int bint = 0;
  uint bi = 0xffffffffu;
  for (uint k = 0u; k < pc.nchunks; ++k) {
    const uint bits = part.w[prow + 2u * k], i = part.w[prow + 2u * k + 1u];
    if (i == 0xffffffffu) continue;
    if (ints) {
      if (bi == 0xffffffffu || better_i(int(bits), i, bint, bi)) bint = int(bits), bi = i;
    } else if (bi == 0xffffffffu || better_f(uintBitsToFloat(bits), i, bv, bi)) {
      bv = uintBitsToFloat(bits), bi = i;
    }
  }
  to_store_bits(DT_I32, pc.off_o + row * pc.so_r * 4u, bi == 0xffffffffu ? 0u : bi);
}
