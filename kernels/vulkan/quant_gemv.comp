#version 450
// GEMM with a quantized weight for small M: C[m, n] = act(alpha * sum_j A[m, perm(j)] w(n, j)
// + beta C + bias). SPLIT invocations share column n (64 / SPLIT columns per workgroup); each
// takes units of `unit` elements that never straddle a group, sums code x activation over
// the unit (int4 nibbles unpacked in registers, zero points subtracted directly) and
// multiplies by the group's scale once; partial sums meet in shared memory. MR rows of A per
// invocation; the grid's y walks row blocks. f32 accumulation.
#include "quant_common.glsl"
layout(constant_id = 1) const uint DT_A = 0;
layout(constant_id = 2) const uint MR = 1;
layout(constant_id = 3) const uint SPLIT = 16;
layout(constant_id = 4) const uint HAS_PERM = 0;
layout(local_size_x = 64) in;
shared float red[64 * 4];

float activate(float v) {
  if (pc.act == 1u) return max(v, 0.0);
  if (pc.act == 2u) return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
  if (pc.act == 3u) return v / (1.0 + exp(-v));
  return v;
}

float a_at(uint arow, uint col) {
  return ta_load(DT_A, pc.off_a + (arow + col * pc.cs_a) * dt_size(DT_A));
}

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint part = t % SPLIT;
  const uint col = gl_WorkGroupID.x * (64u / SPLIT) + t / SPLIT;
  const uint n = pc.row0 + min(col, pc.N - 1u);  // past N: still joins the barriers
  const uint m0 = gl_WorkGroupID.y * MR;
  const uint row = q_row(n);
  uint arow[4];
  float acc[4];
  for (uint m = 0u; m < MR; ++m) {
    arow[m] = min(m0 + m, pc.M - 1u) * pc.rs_a;
    acc[m] = 0.0;
  }
  const uint units = (pc.K + pc.unit - 1u) / pc.unit;
  for (uint u = part; u < units; u += SPLIT) {
    const uint j0 = u * pc.unit, j1 = min(pc.K, j0 + pc.unit), g = j0 / pc.group;
    const float z = q_zero(n, g);
    float sum[4];
    for (uint m = 0u; m < MR; ++m) sum[m] = 0.0;
    uint j = j0;
    for (; j + 8u <= j1; j += 8u) {
      vec4 wl, wh;
      q_code8(row, j, wl, wh);
      wl -= z;
      wh -= z;
      uint pc8[8];
      for (uint i = 0u; i < 8u; ++i) pc8[i] = HAS_PERM != 0u ? q_perm(j + i) : j + i;
      for (uint m = 0u; m < MR; ++m) {
        const vec4 al = vec4(a_at(arow[m], pc8[0]), a_at(arow[m], pc8[1]), a_at(arow[m], pc8[2]),
                             a_at(arow[m], pc8[3]));
        const vec4 ah = vec4(a_at(arow[m], pc8[4]), a_at(arow[m], pc8[5]), a_at(arow[m], pc8[6]),
                             a_at(arow[m], pc8[7]));
        sum[m] += dot(wl, al) + dot(wh, ah);
      }
    }
    for (; j < j1; ++j) {  // per-channel rows whose K is not a multiple of 8
      const float w = q_code1(row, j) - z;
      const uint pj = HAS_PERM != 0u ? q_perm(j) : j;
      for (uint m = 0u; m < MR; ++m) sum[m] = fma(a_at(arow[m], pj), w, sum[m]);
    }
    const float s = q_scale(n, g);
    for (uint m = 0u; m < MR; ++m) acc[m] = fma(s, sum[m], acc[m]);
  }
  for (uint m = 0u; m < MR; ++m) red[t * MR + m] = acc[m];
  barrier();
  if (part != 0u || col >= pc.N) return;
  const uint ec = dt_size(pc.dt_c), eg = dt_size(pc.dt_bias);
  for (uint m = 0u; m < MR && m0 + m < pc.M; ++m) {
    float v = 0.0;
    for (uint i = 0u; i < SPLIT; ++i) v += red[(t + i) * MR + m];
    const uint addr = pc.off_c + ((m0 + m) * pc.rs_c + n * pc.cs_c) * ec;
    v *= pc.alpha;
    if (pc.beta != 0.0) v += pc.beta * tc_load(pc.dt_c, addr);
    if ((pc.flags & F_BIAS) != 0u) v += tbias_load(pc.dt_bias, pc.off_bias + n * pc.s_bias * eg);
    tc_store(pc.dt_c, addr, activate(v));
  }
}
