// One key tile of the sm_80 FlashAttention-2 scheme for one warp's 16 query rows, shared by
// the dense prefill (attention_sm80_mma.cu) and the paged prefill (paged_prefill_sm80.cu),
// which differ only in how K/V rows reach shared memory and which keys a row sees.
// S = Q·Kᵀ with mma.sync.m16n8k16 (Q and K fragments by ldmatrix from padded shared rows),
// online softmax on the S accumulators in base 2 (a row lives in the 4 lanes of a quad),
// P re-packed in registers as the A operand of O += P·V (V by ldmatrix.trans).
// Included only where PORTA_CUDA_NVIDIA_PATHS is defined.
#pragma once

#include "mma_sm80.cuh"

namespace porta::cuda::sm80 {

/// Accumulator element (nt, e) of a warp's S tile is row g + (e / 2) * 8 (g = lane / 4) and key
/// nt * 8 + 2 t + e % 2 (t = lane % 4) of the tile. `visible(r, kl)`: whether row g + 8 r sees
/// the tile's key kl; `sl2` = scale · log2 e. qs: the warp's 16 Q rows; ks / vs: the tile's
/// kBKV K and V rows, all of pitch kPitch elements. m, l: running max (base 2) and sum of rows
/// g and g + 8; o: their unnormalised outputs.
template <bool kBF16, int kD, int kBKV, int kPitch, class Visible>
__device__ __forceinline__ void fa2_tile(const uint16_t* qs, const uint16_t* ks, const uint16_t* vs, int lane,
                                         float sl2, Visible visible, float (&o)[kD / 8][4], float (&m)[2],
                                         float (&l)[2]) {
  constexpr int kNT = kBKV / 8;  // S n-tiles
  constexpr int kDT = kD / 8;    // O n-tiles
  const float neg_inf = -__int_as_float(0x7f800000);
  const int t = lane % 4;

  float s[kNT][4];
#pragma unroll
  for (int i = 0; i < kNT; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < kD; kk += 16) {
    uint32_t qa[4];
    ldmatrix_x4(smem_addr(qs + (lane % 16) * kPitch + kk + (lane / 16) * 8), qa);
#pragma unroll
    for (int p = 0; p < kNT / 2; ++p) {
      uint32_t r[4];
      ldmatrix_x4(smem_addr(ks + (p * 16 + lane % 8 + (lane / 16) * 8) * kPitch + kk + ((lane / 8) % 2) * 8),
                  r);
      const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
      mma16816<kBF16>(s[2 * p], qa, b0);
      mma16816<kBF16>(s[2 * p + 1], qa, b1);
    }
  }

  float corr[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = neg_inf;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float& v = s[nt][r * 2 + e];
        v = visible(r, nt * 8 + 2 * t + e) ? v * sl2 : neg_inf;
        mx = fmaxf(mx, v);
      }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m[r], mx);
    const float base = m_new == neg_inf ? 0.0f : m_new;  // fully masked so far: p = 0
    corr[r] = exp2f(m[r] - base);                        // m = -inf: 0
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float& v = s[nt][r * 2 + e];
        v = exp2f(v - base);
        sum += v;
      }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    l[r] = l[r] * corr[r] + sum;
    m[r] = m_new;
  }
#pragma unroll
  for (int i = 0; i < kDT; ++i) {
    o[i][0] *= corr[0], o[i][1] *= corr[0];
    o[i][2] *= corr[1], o[i][3] *= corr[1];
  }

  // O += P·V: the S accumulators of key n-tiles 2j, 2j+1 are the A fragment of k-step j.
#pragma unroll
  for (int j = 0; j < kBKV / 16; ++j) {
    const uint32_t pa[4] = {pack2<kBF16>(s[2 * j][0], s[2 * j][1]), pack2<kBF16>(s[2 * j][2], s[2 * j][3]),
                            pack2<kBF16>(s[2 * j + 1][0], s[2 * j + 1][1]),
                            pack2<kBF16>(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
    for (int q = 0; q < kD / 16; ++q) {
      uint32_t r[4];
      ldmatrix_x4_trans(
          smem_addr(vs + (j * 16 + lane % 8 + ((lane / 8) % 2) * 8) * kPitch + q * 16 + (lane / 16) * 8), r);
      const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
      mma16816<kBF16>(o[2 * q], pa, b0);
      mma16816<kBF16>(o[2 * q + 1], pa, b1);
    }
  }
}

}  // namespace porta::cuda::sm80
