#version 450
// GEMM for small M (decode, M <= 16) with B read along K (a [N, K] weight seen transposed):
// a workgroup computes 4 columns for all M rows; its 64 invocations stride over K, so the
// weight is streamed once with unit-stride reads, then partial sums meet in shared memory.
// PAIR reads two 16-bit weights per 32-bit word, OCTET eight per 16-byte word.
#include "common.glsl"
#include "gemm_common.glsl"
layout(constant_id = 0) const uint SM = 1;  // M, fixed per pipeline so acc stays in registers
layout(constant_id = 1) const uint DT_A = 0;
layout(constant_id = 2) const uint DT_B = 0;
layout(constant_id = 3) const uint PAIR = 0;
layout(constant_id = 4) const uint OCTET = 0;
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer A { uint w[]; } ta;
layout(std430, binding = 1) buffer B { uint w[]; } tb;
layout(std430, binding = 1) buffer B4 { uvec4 v[]; } tb4;
layout(std430, binding = 2) buffer C { uint w[]; } tc;
layout(std430, binding = 3) buffer Bias { uint w[]; } tbias;
PORTA_TENSOR_IO(ta)
PORTA_TENSOR_IO(tb)
PORTA_TENSOR_IO(tc)
PORTA_TENSOR_IO(tbias)
const uint NPW = 4;
shared float red[64 * NPW];

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint n0 = gl_WorkGroupID.x * NPW, bz = gl_WorkGroupID.y;
  const uint ea = dt_size(DT_A), eb = dt_size(DT_B), ec = dt_size(pc.dt_c);
  const uint base_a = pc.off_a + bz * pc.sa_b * ea;
  const uint base_b = pc.off_b + bz * pc.sb_b * eb;
  uint pb[NPW];
  for (uint c = 0; c < NPW; ++c) pb[c] = base_b + min(n0 + c, pc.N - 1u) * pc.sb_n * eb;
  float acc[SM][NPW];
  for (uint m = 0; m < SM; ++m)
    for (uint c = 0; c < NPW; ++c) acc[m][c] = 0.0;
  if (OCTET != 0) {
    for (uint k = 8u * t; k < pc.K; k += 512u) {
      float b[NPW][8];
      for (uint c = 0; c < NPW; ++c) {
        const uvec4 q = tb4.v[(pb[c] + k * eb) >> 4];
        for (uint i = 0; i < 4u; ++i) {
          b[c][2u * i] = DT_B == DT_F16 ? f16_to_f32(q[i] & 0xffffu) : bf16_to_f32(q[i] & 0xffffu);
          b[c][2u * i + 1u] = DT_B == DT_F16 ? f16_to_f32(q[i] >> 16) : bf16_to_f32(q[i] >> 16);
        }
      }
      for (uint m = 0; m < SM; ++m) {
        const uint pa = base_a + (m * pc.sa_m + k * pc.sa_k) * ea;
        for (uint i = 0; i < 8u; ++i) {
          const float a = ta_load(DT_A, pa + i * pc.sa_k * ea);
          for (uint c = 0; c < NPW; ++c) acc[m][c] = fma(a, b[c][i], acc[m][c]);
        }
      }
    }
  } else if (PAIR != 0) {
    for (uint k = 2u * t; k < pc.K; k += 128u) {
      vec2 b[NPW];
      for (uint c = 0; c < NPW; ++c) {
        const uint word = tb.w[(pb[c] + k * eb) >> 2];
        b[c] = DT_B == DT_F16 ? vec2(f16_to_f32(word & 0xffffu), f16_to_f32(word >> 16))
                              : vec2(bf16_to_f32(word & 0xffffu), bf16_to_f32(word >> 16));
      }
      for (uint m = 0; m < SM; ++m) {
        const uint pa = base_a + (m * pc.sa_m + k * pc.sa_k) * ea;
        const vec2 a = vec2(ta_load(DT_A, pa), ta_load(DT_A, pa + pc.sa_k * ea));
        for (uint c = 0; c < NPW; ++c) acc[m][c] += a.x * b[c].x + a.y * b[c].y;
      }
    }
  } else {
    for (uint k = t; k < pc.K; k += 64u) {
      float b[NPW];
      for (uint c = 0; c < NPW; ++c) b[c] = tb_load(DT_B, pb[c] + k * pc.sb_k * eb);
      for (uint m = 0; m < SM; ++m) {
        const float a = ta_load(DT_A, base_a + (m * pc.sa_m + k * pc.sa_k) * ea);
        for (uint c = 0; c < NPW; ++c) acc[m][c] = fma(a, b[c], acc[m][c]);
      }
    }
  }
  const uint eg = dt_size(pc.dt_bias);
  for (uint m = 0; m < SM; ++m) {
    for (uint c = 0; c < NPW; ++c) red[c * 64u + t] = acc[m][c];
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
      if (t < s)
        for (uint c = 0; c < NPW; ++c) red[c * 64u + t] += red[c * 64u + t + s];
      barrier();
    }
    if (t < NPW && n0 + t < pc.N) {
      const uint col = n0 + t;
      const uint addr = pc.off_c + (bz * pc.sc_b + m * pc.sc_m + col * pc.sc_n) * ec;
      float v = pc.alpha * red[t * 64u];
      if (pc.beta != 0.0) v += pc.beta * tc_load(pc.dt_c, addr);
      if (pc.has_bias != 0u) v += tbias_load(pc.dt_bias, pc.off_bias + col * pc.s_bias * eg);
      tc_store(pc.dt_c, addr, activate(v));
    }
    barrier();
  }
}
