#version 450
// Dequantize rows of a quantized weight: out[r, col(j)] = weight row(r), element j, where
// row(r) = row0 + r, or ids[r] with flag F_IDS (an id outside [0, N) writes a zero row), and
// col(j) = perm[j] with flag F_PERM (the transposed f32 blocks of the M > 16 gemm path) else
// j. An invocation takes 8 elements of a row at a time (striding by the grid's width when the
// grid is narrower than the row); gl_WorkGroupID.y is the row.
#include "quant_common.glsl"
layout(local_size_x = 64) in;

void main() {
  const uint r = gl_WorkGroupID.y;
  uint n = pc.row0 + r;
  bool zero_row = false;
  if ((pc.flags & F_IDS) != 0u) {
    const int id = int(ta.w[(pc.off_a >> 2) + r * pc.rs_a]);
    zero_row = id < 0 || uint(id) >= pc.N;
    n = zero_row ? 0u : uint(id);
  }
  for (uint j0 = gl_GlobalInvocationID.x * 8u; j0 < pc.K; j0 += gl_NumWorkGroups.x * 512u) {
    const uint nj = min(8u, pc.K - j0);
    float v[8];
    if (zero_row) {
      for (uint i = 0u; i < 8u; ++i) v[i] = 0.0;
    } else {
      const uint row = q_row(n), g = j0 / pc.group;
      const float s = q_scale(n, g), z = q_zero(n, g);
      if (nj == 8u) {
        vec4 lo, hi;
        q_code8(row, j0, lo, hi);
        for (uint i = 0u; i < 4u; ++i) {
          v[i] = (lo[i] - z) * s;
          v[i + 4u] = (hi[i] - z) * s;
        }
      } else {
        for (uint i = 0u; i < nj; ++i) v[i] = (q_code1(row, j0 + i) - z) * s;
      }
    }
    const uint ec = dt_size(pc.dt_c);
    for (uint i = 0u; i < nj; ++i) {
      const uint col = (pc.flags & F_PERM) != 0u ? q_perm(j0 + i) : j0 + i;
      tc_store(pc.dt_c, pc.off_c + (r * pc.rs_c + col * pc.cs_c) * ec, v[i]);
    }
  }
}
