#version 450
// argmax over the last dim, one workgroup per row: first index of the maximum; a NaN
// counts as larger than any number, so the first NaN wins (as numpy).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(to)
layout(push_constant) uniform PC {
  uint R, C, sx_r, sx_c, so_r, off_x, off_o, dt;
  uint row0, row_end;  // this dispatch's rows
} pc;

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

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint es = dt_size(pc.dt);
  const bool ints = pc.dt == DT_I32 || pc.dt == DT_I8;
  for (uint row = pc.row0 + gl_WorkGroupID.x; row < pc.row_end; row += gl_NumWorkGroups.x) {
    float bv = 0.0;
    int bint = 0;
    uint bi = 0xffffffffu;
    for (uint c = t; c < pc.C; c += 64u) {
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
    if (t == 0u)
      to_store_bits(DT_I32, pc.off_o + row * pc.so_r * 4u, s_idx[0] == 0xffffffffu ? 0u : s_idx[0]);
    barrier();
  }
}
