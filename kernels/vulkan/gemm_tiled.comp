#version 450
// C = act(alpha * A B + beta * C + bias) for [batch, M, K] x [batch, K, N], f32 accumulation.
// A workgroup computes a BM x BN tile (BM = WG_Y * TM, BN = WG_X * TN); each invocation a
// TM x TN register tile at rows ty + i*WG_Y, columns tx + j*WG_X (so neighbouring
// invocations touch neighbouring columns). USE_SHARED stages BK-deep slices of A and B in
// shared memory (GPUs); without it every invocation reads A and B directly (CPU devices,
// where large register tiles win). With SPLITK the workgroups of gl_WorkGroupID.z also split
// K and write f32 partial sums that gemm_splitk_reduce.comp adds up; a dispatch covers K from
// k_base, and with `accumulate` adds to the sums an earlier pass over K left.
#include "common.glsl"
#include "gemm_common.glsl"
layout(constant_id = 0) const uint WG_X = 16;
layout(constant_id = 1) const uint WG_Y = 16;
layout(constant_id = 2) const uint TM = 4;
layout(constant_id = 3) const uint TN = 4;
layout(constant_id = 4) const uint BK = 16;
layout(constant_id = 5) const uint USE_SHARED = 1;
layout(constant_id = 6) const uint DT_A = 0;
layout(constant_id = 7) const uint DT_B = 0;
layout(constant_id = 8) const uint SPLITK = 0;
// VEC4 (f32 A and B, unit stride along K for A and along N for B, 16-byte aligned rows):
// the direct path reads A and B as vec4, and an invocation's TN columns are contiguous.
layout(constant_id = 9) const uint VEC4 = 0;
layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, binding = 0) buffer A { uint w[]; } ta;
layout(std430, binding = 1) buffer B { uint w[]; } tb;
layout(std430, binding = 2) buffer C { uint w[]; } tc;
layout(std430, binding = 3) buffer Bias { uint w[]; } tbias;
layout(std430, binding = 4) buffer Part { float v[]; } part;
layout(std430, binding = 0) buffer A4 { vec4 v[]; } ta4;
layout(std430, binding = 1) buffer B4 { vec4 v[]; } tb4;
PORTA_TENSOR_IO(ta)
PORTA_TENSOR_IO(tb)
PORTA_TENSOR_IO(tc)
PORTA_TENSOR_IO(tbias)

const uint BM = WG_Y * TM;
const uint BN = WG_X * TN;
shared float As[USE_SHARED != 0 ? BK * BM : 1];
shared float Bs[USE_SHARED != 0 ? BK * BN : 1];

void main() {
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint tid = ty * WG_X + tx;
  const uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
  const uint bz = gl_WorkGroupID.z / pc.splits, split = gl_WorkGroupID.z % pc.splits;
  const uint kb = pc.k_base + split * pc.k_chunk, ke = min(pc.K, kb + pc.k_chunk);
  const uint ea = dt_size(DT_A), eb = dt_size(DT_B), ec = dt_size(pc.dt_c);
  const uint base_a = pc.off_a + bz * pc.sa_b * ea;
  const uint base_b = pc.off_b + bz * pc.sb_b * eb;

  float acc[TM][TN];
  for (uint i = 0; i < TM; ++i)
    for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

  if (USE_SHARED != 0) {
    for (uint k0 = kb; k0 < ke; k0 += BK) {
      for (uint e = tid; e < BM * BK; e += WG_X * WG_Y) {
        const uint m = e / BK, kk = e % BK;
        const uint row = row0 + m, k = k0 + kk;
        const bool inside = row < pc.M && k < ke;
        As[kk * BM + m] = inside ? ta_load(DT_A, base_a + (row * pc.sa_m + k * pc.sa_k) * ea) : 0.0;
      }
      for (uint e = tid; e < BN * BK; e += WG_X * WG_Y) {
        const uint kk = e / BN, n = e % BN;
        const uint col = col0 + n, k = k0 + kk;
        const bool inside = col < pc.N && k < ke;
        Bs[kk * BN + n] = inside ? tb_load(DT_B, base_b + (k * pc.sb_k + col * pc.sb_n) * eb) : 0.0;
      }
      barrier();
      for (uint kk = 0; kk < BK; ++kk) {
        float a[TM], b[TN];
        for (uint i = 0; i < TM; ++i) a[i] = As[kk * BM + ty + i * WG_Y];
        for (uint j = 0; j < TN; ++j) b[j] = Bs[kk * BN + tx + j * WG_X];
        for (uint i = 0; i < TM; ++i)
          for (uint j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
      }
      barrier();
    }
  } else if (VEC4 != 0) {
    // Element (float) indices; every one used here is a multiple of 4.
    uint pa[TM], pb[TN / 4];
    for (uint i = 0; i < TM; ++i) pa[i] = base_a / 4u + min(row0 + ty + i * WG_Y, pc.M - 1u) * pc.sa_m;
    for (uint j = 0; j < TN / 4; ++j) pb[j] = base_b / 4u + min(col0 + tx * TN + 4u * j, pc.N - 4u);
    vec4 acc4[TM][TN / 4];
    for (uint i = 0; i < TM; ++i)
      for (uint j = 0; j < TN / 4; ++j) acc4[i][j] = vec4(0.0);
    for (uint k = kb; k < ke; k += 4u) {
      vec4 a4[TM];
      for (uint i = 0; i < TM; ++i) a4[i] = ta4.v[(pa[i] + k) >> 2];
      for (uint kk = 0; kk < 4u; ++kk) {
        vec4 b4[TN / 4];
        for (uint j = 0; j < TN / 4; ++j) b4[j] = tb4.v[(pb[j] + (k + kk) * pc.sb_k) >> 2];
        for (uint i = 0; i < TM; ++i)
          for (uint j = 0; j < TN / 4; ++j) acc4[i][j] = fma(vec4(a4[i][kk]), b4[j], acc4[i][j]);
      }
    }
    for (uint i = 0; i < TM; ++i)
      for (uint j = 0; j < TN; ++j) acc[i][j] = acc4[i][j / 4u][j % 4u];
  } else {
    // Out-of-range rows/columns read the last valid one (their results are not stored),
    // which keeps the inner loop free of branches.
    uint pa[TM], pb[TN];
    for (uint i = 0; i < TM; ++i) pa[i] = base_a + min(row0 + ty + i * WG_Y, pc.M - 1u) * pc.sa_m * ea;
    for (uint j = 0; j < TN; ++j) pb[j] = base_b + min(col0 + tx + j * WG_X, pc.N - 1u) * pc.sb_n * eb;
    const uint step_a = pc.sa_k * ea, step_b = pc.sb_k * eb;
    for (uint k = kb; k < ke; ++k) {
      float a[TM], b[TN];
      for (uint i = 0; i < TM; ++i) a[i] = ta_load(DT_A, pa[i] + k * step_a);
      for (uint j = 0; j < TN; ++j) b[j] = tb_load(DT_B, pb[j] + k * step_b);
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
  }

  const uint eg = dt_size(pc.dt_bias);
  for (uint i = 0; i < TM; ++i) {
    const uint row = row0 + ty + i * WG_Y;
    if (row >= pc.M) continue;
    for (uint j = 0; j < TN; ++j) {
      const uint col = VEC4 != 0 ? col0 + tx * TN + j : col0 + tx + j * WG_X;
      if (col >= pc.N) continue;
      if (SPLITK != 0) {
        const uint pi = ((split * (gl_NumWorkGroups.z / pc.splits) + bz) * pc.M + row) * pc.N + col;
        part.v[pi] = pc.accumulate != 0u ? part.v[pi] + acc[i][j] : acc[i][j];
        continue;
      }
      const uint addr = pc.off_c + (bz * pc.sc_b + row * pc.sc_m + col * pc.sc_n) * ec;
      float v = pc.alpha * acc[i][j];
      if (pc.beta != 0.0) v += pc.beta * tc_load(pc.dt_c, addr);
      if (pc.has_bias != 0u) v += tbias_load(pc.dt_bias, pc.off_bias + col * pc.s_bias * eg);
      tc_store(pc.dt_c, addr, activate(v));
    }
  }
}
