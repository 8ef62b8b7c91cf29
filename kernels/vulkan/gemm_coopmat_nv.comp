#version 450
// f16 GEMM on matrix units through GL_NV_cooperative_matrix (16x16x16 f16 -> f32): a
// 256-invocation workgroup (8 subgroups of 32) computes a 128x128 tile of C, staging
// 128x32 slices of A and 32x128 slices of B in shared memory with 16-byte global reads;
// each subgroup owns a 32x64 block (2x4 accumulator fragments). Fragments go through a
// per-subgroup shared scratch for the epilogue (alpha, beta, bias, activation, dtype).
// Selected only for f16 A/B with unit inner strides, 16-byte aligned rows, and M, N, K
// multiples of 128, 128, 32 (gemm.cpp); every other case takes gemm_tiled.comp.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.glsl"
#include "gemm_common.glsl"
layout(constant_id = 0) const uint B_KN = 1;  // 1: B is [K, N] row-major; 0: B is [N, K] (a weight)
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A4 { uvec4 v[]; } ta4;
layout(std430, binding = 1) readonly buffer B4 { uvec4 v[]; } tb4;
layout(std430, binding = 2) buffer C { uint w[]; } tc;
layout(std430, binding = 3) buffer Bias { uint w[]; } tbias;
PORTA_TENSOR_IO(tc)
PORTA_TENSOR_IO(tbias)

const uint BM = 128, BN = 128, BK = 32;
shared float16_t As[BM * BK];   // row-major [m][k]
shared float16_t Bs[BK * BN];   // row-major [k][n]
shared float Cs[8 * 16 * 16];   // one 16x16 fragment per subgroup for the epilogue

void put8(bool a, uint at, uvec4 q) {
  for (uint i = 0; i < 4; ++i) {
    const f16vec2 h = unpackFloat2x16(q[i]);
    if (a) {
      As[at + 2 * i] = h.x;
      As[at + 2 * i + 1] = h.y;
    } else {
      Bs[at + 2 * i] = h.x;
      Bs[at + 2 * i + 1] = h.y;
    }
  }
}

void main() {
  const uint tid = gl_LocalInvocationID.x, sg = gl_SubgroupID;
  const uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN, bz = gl_WorkGroupID.z;
  const uint sm = (sg / 2u) * 32u, sn = (sg % 2u) * 64u;  // this subgroup's block in the tile
  // Element indices (f16 units) of the batch's A and B.
  const uint base_a = pc.off_a / 2u + bz * pc.sa_b, base_b = pc.off_b / 2u + bz * pc.sb_b;
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][4];
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 4; ++j) acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

  for (uint k0 = 0; k0 < pc.K; k0 += BK) {
    // A: 128 rows x 32 halves = 512 uvec4; two per invocation.
    for (uint e = tid; e < BM * BK / 8u; e += 256u) {
      const uint m = e / (BK / 8u), kq = (e % (BK / 8u)) * 8u;
      put8(true, m * BK + kq, ta4.v[(base_a + (row0 + m) * pc.sa_m + k0 + kq) / 8u]);
    }
    if (B_KN != 0) {  // B [K, N]: 32 rows of 128 halves
      for (uint e = tid; e < BK * BN / 8u; e += 256u) {
        const uint k = e / (BN / 8u), nq = (e % (BN / 8u)) * 8u;
        put8(false, k * BN + nq, tb4.v[(base_b + (k0 + k) * pc.sb_k + col0 + nq) / 8u]);
      }
    } else {  // B as a [N, K] weight: read along K, transpose into Bs
      for (uint e = tid; e < BK * BN / 8u; e += 256u) {
        const uint n = e / (BK / 8u), kq = (e % (BK / 8u)) * 8u;
        const uvec4 q = tb4.v[(base_b + (col0 + n) * pc.sb_n + k0 + kq) / 8u];
        for (uint i = 0; i < 4; ++i) {
          const f16vec2 h = unpackFloat2x16(q[i]);
          Bs[(kq + 2 * i) * BN + n] = h.x;
          Bs[(kq + 2 * i + 1) * BN + n] = h.y;
        }
      }
    }
    barrier();
    for (uint kk = 0; kk < BK; kk += 16u) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[2], b[4];
      for (uint i = 0; i < 2; ++i) coopMatLoadNV(a[i], As, (sm + 16u * i) * BK + kk, BK, false);
      for (uint j = 0; j < 4; ++j) coopMatLoadNV(b[j], Bs, kk * BN + sn + 16u * j, BN, false);
      for (uint i = 0; i < 2; ++i)
        for (uint j = 0; j < 4; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
    }
    barrier();
  }

  const uint lane = gl_SubgroupInvocationID, ec = dt_size(pc.dt_c), eg = dt_size(pc.dt_bias);
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 4; ++j) {
      coopMatStoreNV(acc[i][j], Cs, sg * 256u, 16u, false);
      subgroupBarrier();
      for (uint e = lane; e < 256u; e += gl_SubgroupSize) {
        const uint row = row0 + sm + 16u * i + e / 16u, col = col0 + sn + 16u * j + e % 16u;
        const uint addr = pc.off_c + (bz * pc.sc_b + row * pc.sc_m + col * pc.sc_n) * ec;
        float v = pc.alpha * Cs[sg * 256u + e];
        if (pc.beta != 0.0) v += pc.beta * tc_load(pc.dt_c, addr);
        if (pc.has_bias != 0u) v += tbias_load(pc.dt_bias, pc.off_bias + col * pc.s_bias * eg);
        tc_store(pc.dt_c, addr, activate(v));
      }
      subgroupBarrier();
    }
}
