#version 450
// GEMM with a quantized weight for small M: C[m, n] = act(alpha * sum_j A[m, perm(j)] w(n, j)
// + beta C + bias). SPLIT invocations share a block of NC adjacent columns (64 / SPLIT blocks
// per workgroup); each takes units of `unit` elements that never straddle a group, sums code x
// activation over the unit for its NC columns (int4 nibbles unpacked in registers, zero points
// subtracted directly), and multiplies by each group's scale once; partial sums meet in shared
// memory. One activation load serves NC columns (on llvmpipe every invocation's load is a
// gather: loads, not bytes, bound this kernel). VEC_A: contiguous, 16-byte aligned activation
// rows without a permutation, read 8 elements per one (f16/bf16) or two (f32) 16-byte loads.
// MR rows of A per invocation; the grid's y walks row blocks. f32 accumulation.
#include "quant_common.glsl"
layout(constant_id = 1) const uint DT_A = 0;
layout(constant_id = 2) const uint MR = 1;
layout(constant_id = 3) const uint SPLIT = 16;
layout(constant_id = 4) const uint HAS_PERM = 0;
layout(constant_id = 5) const uint NC = 1;
layout(constant_id = 6) const uint VEC_A = 0;
layout(local_size_x = 64) in;
layout(std430, binding = 4) buffer A4 { uvec4 v[]; } ta4;  // binding 4 (activations) as 16-byte words
shared float red[64 * 4 * 4];

float activate(float v) {
  if (pc.act == 1u) return max(v, 0.0);
  if (pc.act == 2u) return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
  if (pc.act == 3u) return v / (1.0 + exp(-v));
  return v;
}

float a_at(uint arow, uint col) {
  return ta_load(DT_A, pc.off_a + (arow + col * pc.cs_a) * dt_size(DT_A));
}

// Activations j .. j + 7 of the row starting at element arow (VEC_A only).
void a_load8(uint arow, uint j, out vec4 lo, out vec4 hi) {
  const uint v = (pc.off_a + (arow + j) * dt_size(DT_A)) >> 4;
  if (DT_A == DT_F32) {
    lo = uintBitsToFloat(ta4.v[v]);
    hi = uintBitsToFloat(ta4.v[v + 1u]);
    return;
  }
  const uvec4 q = ta4.v[v];
  if (DT_A == DT_F16) {
    lo = vec4(f16_to_f32(q.x & 0xffffu), f16_to_f32(q.x >> 16), f16_to_f32(q.y & 0xffffu), f16_to_f32(q.y >> 16));
    hi = vec4(f16_to_f32(q.z & 0xffffu), f16_to_f32(q.z >> 16), f16_to_f32(q.w & 0xffffu), f16_to_f32(q.w >> 16));
  } else {
    lo = vec4(bf16_to_f32(q.x & 0xffffu), bf16_to_f32(q.x >> 16), bf16_to_f32(q.y & 0xffffu), bf16_to_f32(q.y >> 16));
    hi = vec4(bf16_to_f32(q.z & 0xffffu), bf16_to_f32(q.z >> 16), bf16_to_f32(q.w & 0xffffu), bf16_to_f32(q.w >> 16));
  }
}

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint part = t % SPLIT;
  const uint col0 = (gl_WorkGroupID.x * (64u / SPLIT) + t / SPLIT) * NC;  // first column of the block
  const uint m0 = gl_WorkGroupID.y * MR;
  uint row[4], ncol[4];
  for (uint c = 0u; c < NC; ++c) {
    ncol[c] = pc.row0 + min(col0 + c, pc.N - 1u);  // past N: still joins the barriers
    row[c] = q_row(ncol[c]);
  }
  uint arow[4];
  float acc[4][4];
  for (uint m = 0u; m < MR; ++m) {
    arow[m] = min(m0 + m, pc.M - 1u) * pc.rs_a;
    for (uint c = 0u; c < NC; ++c) acc[m][c] = 0.0;
  }
  const uint units = (pc.K + pc.unit - 1u) / pc.unit;
  for (uint u = part; u < units; u += SPLIT) {
    const uint j0 = u * pc.unit, j1 = min(pc.K, j0 + pc.unit), g = j0 / pc.group;
    float z[4];
    for (uint c = 0u; c < NC; ++c) z[c] = q_zero(ncol[c], g);
    float sum[4][4];
    for (uint m = 0u; m < MR; ++m)
      for (uint c = 0u; c < NC; ++c) sum[m][c] = 0.0;
    uint j = j0;
    for (; j + 8u <= j1; j += 8u) {
      vec4 wl[4], wh[4];
      for (uint c = 0u; c < NC; ++c) {
        q_code8(row[c], j, wl[c], wh[c]);
        wl[c] -= z[c];
        wh[c] -= z[c];
      }
      uint pc8[8];
      if (VEC_A == 0u)
        for (uint i = 0u; i < 8u; ++i) pc8[i] = HAS_PERM != 0u ? q_perm(j + i) : j + i;
      for (uint m = 0u; m < MR; ++m) {
        vec4 al, ah;
        if (VEC_A != 0u) {
          a_load8(arow[m], j, al, ah);
        } else {
          al = vec4(a_at(arow[m], pc8[0]), a_at(arow[m], pc8[1]), a_at(arow[m], pc8[2]), a_at(arow[m], pc8[3]));
          ah = vec4(a_at(arow[m], pc8[4]), a_at(arow[m], pc8[5]), a_at(arow[m], pc8[6]), a_at(arow[m], pc8[7]));
        }
        for (uint c = 0u; c < NC; ++c) sum[m][c] += dot(wl[c], al) + dot(wh[c], ah);
      }
    }
    for (; j < j1; ++j) {  // per-channel rows whose K is not a multiple of 8
      const uint pj = HAS_PERM != 0u ? q_perm(j) : j;
      for (uint m = 0u; m < MR; ++m) {
        const float a = a_at(arow[m], pj);
        for (uint c = 0u; c < NC; ++c) sum[m][c] = fma(a, q_code1(row[c], j) - z[c], sum[m][c]);
      }
    }
    for (uint c = 0u; c < NC; ++c) {
      const float s = q_scale(ncol[c], g);
      for (uint m = 0u; m < MR; ++m) acc[m][c] = fma(s, sum[m][c], acc[m][c]);
    }
  }
  for (uint c = 0u; c < NC; ++c)
    for (uint m = 0u; m < MR; ++m) red[(t * NC + c) * MR + m] = acc[m][c];
  barrier();
  if (part != 0u) return;
  const uint ec = dt_size(pc.dt_c), eg = dt_size(pc.dt_bias);
  for (uint c = 0u; c < NC && col0 + c < pc.N; ++c) {
    const uint n = pc.row0 + col0 + c;
    for (uint m = 0u; m < MR && m0 + m < pc.M; ++m) {
      float v = 0.0;
      for (uint i = 0u; i < SPLIT; ++i) v += red[((t + i) * NC + c) * MR + m];
      const uint addr = pc.off_c + ((m0 + m) * pc.rs_c + n * pc.cs_c) * ec;
      v *= pc.alpha;
      if (pc.beta != 0.0) v += pc.beta * tc_load(pc.dt_c, addr);
      if ((pc.flags & F_BIAS) != 0u) v += tbias_load(pc.dt_bias, pc.off_bias + n * pc.s_bias * eg);
      tc_store(pc.dt_c, addr, activate(v));
    }
  }
}
