// AVX-512 + AVX512-BF16 int4 GEMV: the codes become bf16 words with one table lookup and
// are multiplied with vdpbf16ps (32 products per instruction), twice the f32 path's rate
// per core on Zen 4 (decode is compute-bound there: conversion ops, not bytes, limit it).
//
// Codes (exact in bf16) are read 64 bytes (128 weights, one chunk) at a time as 32 words;
// word d holds the nibbles of k = 4d .. 4d+3, and nibble plane i (the word shifted right by
// 4i) indexes a 32-entry table of bf16(q - 8) with vpermw, which reads only the low 5 bits.
// The activations come split once per call into bf16 hi + lo (x = hi + lo to 2^-17,
// relative), laid out per chunk to match: hi[i*32 + d] = hi(x[4d + i]), then lo likewise.
// A chunk's hi + lo sums are scaled once, by a vector of per-lane scales: groups of 32 and
// 64 split a chunk by lanes (block()); groups divide 128 or are multiples of it, or one per
// row. int4_zp adds s·(8 - z)·Σx per group; values that do not split (non-finite, or beyond bf16's range)
// make the driver use the f32 kernels. Compiled with -mavx512bf16; chosen only where CPUID reports it
// (quant_kernels()).
#if defined(PORTA_CPU_X86)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/quant_avx512_scales.h"
#include "backends/cpu/quant_kernels.h"

namespace porta::cpu {
namespace {

constexpr int64_t kChunk = 128;  // weights per 64 bytes of codes

bool split_bf16(const float* x, int64_t K, uint16_t* out) {
  const __m512 lim = _mm512_set1_ps(0x1.fep127f);
  alignas(64) float buf[kChunk];
  for (int64_t c = 0; c < K; c += kChunk, out += 2 * kChunk) {
    const float* src = x + c;
    if (K - c < kChunk) {
      std::fill(buf, buf + kChunk, 0.0f);
      std::copy(x + c, x + K, buf);
      src = buf;
    }
    __m512i hw[4], lw[4];
    for (int q = 0; q < 4; ++q) {
      const __m512 a = _mm512_loadu_ps(src + 32 * q), b = _mm512_loadu_ps(src + 32 * q + 16);
      const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(a), lim, _CMP_LE_OQ) &
                           _mm512_cmp_ps_mask(_mm512_abs_ps(b), lim, _CMP_LE_OQ);
      if (ok != 0xffff) return false;
      const __m512i h = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));  // words: a, then b
      const __m512 ah =
          _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(h)), 16));
      const __m512 bh =
          _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(h, 1)), 16));
      hw[q] = h;
      lw[q] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_sub_ps(b, bh), _mm512_sub_ps(a, ah)));
    }
    // Plane i, word d = natural word 4d + i: d < 16 from words 0..63, d >= 16 from 64..127.
    for (int i = 0; i < 4; ++i) {
      alignas(64) uint16_t ix[32];
      for (int d = 0; d < 32; ++d) ix[d] = static_cast<uint16_t>((4 * d + i) & 63);
      const __m512i idx = _mm512_load_si512(ix);
      const __mmask32 upper = 0xffff0000u;
      _mm512_storeu_si512(out + i * 32,
                          _mm512_mask_blend_epi16(upper, _mm512_permutex2var_epi16(hw[0], idx, hw[1]),
                                                  _mm512_permutex2var_epi16(hw[2], idx, hw[3])));
      _mm512_storeu_si512(out + kChunk + i * 32,
                          _mm512_mask_blend_epi16(upper, _mm512_permutex2var_epi16(lw[0], idx, lw[1]),
                                                  _mm512_permutex2var_epi16(lw[2], idx, lw[3])));
    }
  }
  return true;
}

/// int4_zp: Σ_g s·(8 − z)·Σx over row n's groups, for MB activation rows (xsum rows at
/// xsum + mb * G): Σ (q − z)·x = Σ (q − 8)·x + (8 − z)·Σ x. 16 groups a step where scales
/// and zeros are contiguous f16 (groups of 32 give K / 32 of them per row).
template <int MB>
void zp_correction(const QuantRows& w, int64_t n, const float* xsum, int64_t G, float* corr) {
  if (w.scale_dtype == DType::f16 && w.scale_cs == 1 && w.zero_cs == 1) {
    const auto* sp = reinterpret_cast<const uint16_t*>(w.scales) + n * w.scale_rs;
    const uint16_t* zp = w.zeros + n * w.zero_rs;
    __m512 acc[MB];
    for (int mb = 0; mb < MB; ++mb) acc[mb] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; g += 16) {
      const __mmask16 m = G - g >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (G - g)) - 1);
      const __m512 s = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, sp + g));
      const __m512 z = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, zp + g));
      const __m512 f = _mm512_mul_ps(s, _mm512_sub_ps(_mm512_set1_ps(8.0f), z));
      for (int mb = 0; mb < MB; ++mb)
        acc[mb] = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, xsum + mb * G + g), acc[mb]);
    }
    for (int mb = 0; mb < MB; ++mb) corr[mb] = _mm512_reduce_add_ps(acc[mb]);
    return;
  }
  for (int mb = 0; mb < MB; ++mb) corr[mb] = 0.0f;
  for (int64_t g = 0; g < G; ++g) {
    const float f = scale_of(w, n, g) * (8.0f - _cvtsh_ss(w.zeros[n * w.zero_rs + g * w.zero_cs]));
    for (int mb = 0; mb < MB; ++mb) corr[mb] += f * xsum[mb * G + g];
  }
}

/// Rows [n, n + R) x activation rows [m0, m0 + MB).
///
/// Scales: vdpbf16ps leaves f32 lane l of a chunk's sums holding the products of chunk
/// elements [8l, 8l + 8) (plane i, word d is element 4d + i; lane l sums words 2l, 2l + 1),
/// so a group of 8..64 elements owns 16 / gpc adjacent lanes (gpc = 128 / group groups per
/// chunk) and the chunk's sums take one vector of per-lane scales: vpermps from a register
/// of 16 groups' scales, as cheap as the broadcast a group of >= 128 takes.
template <int R, int MB>
void block(const QuantGemvArgs& a, int64_t n, int m0, int64_t n_base) {
  const QuantRows& w = *a.w;
  const int64_t K = w.k, G = w.groups();
  const int64_t row_bytes = (K + 1) / 2, chunks = (K + kChunk - 1) / kChunk;
  // gpc groups per chunk (group 8..64), or cpg chunks per group (group a multiple of 128, or
  // one group per row; the last chunk may be partial).
  const int gpc = G > 1 && w.group < kChunk ? static_cast<int>(kChunk / w.group) : 1;
  const int64_t cpg = gpc > 1 ? 1 : G == 1 ? chunks : w.group / kChunk;
  alignas(64) static const uint16_t table[32] = {
      0xc100, 0xc0e0, 0xc0c0, 0xc0a0, 0xc080, 0xc040, 0xc000, 0xbf80, 0x0000, 0x3f80, 0x4000,
      0x4040, 0x4080, 0x40a0, 0x40c0, 0x40e0, 0xc100, 0xc0e0, 0xc0c0, 0xc0a0, 0xc080, 0xc040,
      0xc000, 0xbf80, 0x0000, 0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0, 0x40e0};  // bf16(q - 8)
  const __m512i lut = _mm512_load_si512(table);
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w.codes + (n + r) * w.code_rs;
  const uint16_t* xs[MB];
  for (int mb = 0; mb < MB; ++mb) xs[mb] = a.xb + (m0 + mb) * a.ldxb;
  w.prefetch_scales(n + R, R);  // the next rows' scales
  __m512 tot[R][MB];
  for (int r = 0; r < R; ++r)
    for (int mb = 0; mb < MB; ++mb) tot[r][mb] = _mm512_setzero_ps();
  // Lane l's scale slot in sv (the scales of groups [g0, g0 + 16)): l / (16 / gpc) in the
  // first chunk after a refill, then + gpc per chunk (+ 1 per cpg chunks when gpc is 1).
  const __m512i first = _mm512_srli_epi32(
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(gpc)),
      4);
  const __m512i step = _mm512_set1_epi32(gpc);
  __m512 sv[R];
  __m512i idx = first;
  int slot = 16;  // groups of sv used up: 16 = refill before the next chunk
  for (int64_t c = 0, g0 = -16, cg = 0; c < chunks; ++c) {
    if (slot == 16) {
      g0 += 16, slot = 0, idx = first;
      for (int r = 0; r < R; ++r) sv[r] = scales16(w, n + r, g0, G);
    }
    __m512i v[R];
    const int64_t off = c * 64;
    if (off + 64 <= row_bytes) {
      for (int r = 0; r < R; ++r) v[r] = _mm512_loadu_si512(rows[r] + off);
    } else {  // the row's last bytes; the rest of the chunk multiplies zero activations
      const __mmask64 m = (__mmask64{1} << (row_bytes - off)) - 1;
      for (int r = 0; r < R; ++r) v[r] = _mm512_maskz_loadu_epi8(m, rows[r] + off);
    }
    // The next R rows at the same offset, into L2 (prefetcht1): the hardware streamer alone
    // does not keep one core fed on these interleaved row streams, and prefetcht0 stalls on
    // L1's few miss buffers (Zen 4, one thread, weights past the LLC: 11.8 GB/s with t0,
    // 20.2 GB/s with t1). Prefetches never fault past the weight's end.
    for (int r = 0; r < R; ++r) __builtin_prefetch(rows[r] + R * w.code_rs + off, 0, 2);
    __m512 hi[R][MB], lo[R][MB];
    for (int r = 0; r < R; ++r)
      for (int mb = 0; mb < MB; ++mb) hi[r][mb] = lo[r][mb] = _mm512_setzero_ps();
    const int64_t xo = c * 2 * kChunk;
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      __m512i wv[R];
      for (int r = 0; r < R; ++r)
        wv[r] = _mm512_permutexvar_epi16(i ? _mm512_srli_epi16(v[r], 4 * i) : v[r], lut);
      for (int mb = 0; mb < MB; ++mb) {
        const __m512bh xh = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xs[mb] + xo + i * 32));
        const __m512bh xl = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xs[mb] + xo + kChunk + i * 32));
        for (int r = 0; r < R; ++r) {
          hi[r][mb] = _mm512_dpbf16_ps(hi[r][mb], reinterpret_cast<__m512bh>(wv[r]), xh);
          lo[r][mb] = _mm512_dpbf16_ps(lo[r][mb], reinterpret_cast<__m512bh>(wv[r]), xl);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 s = _mm512_permutexvar_ps(idx, sv[r]);
      for (int mb = 0; mb < MB; ++mb)
        tot[r][mb] = _mm512_fmadd_ps(s, _mm512_add_ps(hi[r][mb], lo[r][mb]), tot[r][mb]);
    }
    if (gpc > 1) {
      idx = _mm512_add_epi32(idx, step), slot += gpc;
    } else if (++cg == cpg) {
      cg = 0, idx = _mm512_add_epi32(idx, step), ++slot;
    }
  }
  for (int r = 0; r < R; ++r) {
    float corr[MB] = {};
    if (w.format == QuantFormat::int4_zp) zp_correction<MB>(w, n + r, a.xsum + m0 * G, G, corr);
    for (int mb = 0; mb < MB; ++mb)
      a.y[(m0 + mb) * a.ldy + (n + r - n_base)] = _mm512_reduce_add_ps(tot[r][mb]) + corr[mb];
  }
}

template <int R, int MB>
void rows(const QuantGemvArgs& a, int m0, int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + R <= n1; n += R) block<R, MB>(a, n, m0, n0);
  for (; n < n1; ++n) block<1, MB>(a, n, m0, n0);
}

void gemv_bf16(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  int m = 0;
  for (; m + 4 <= a.M; m += 4) rows<1, 4>(a, m, n0, n1);
  if (m + 2 <= a.M) rows<2, 2>(a, m, n0, n1), m += 2;
  if (m < a.M) rows<4, 1>(a, m, n0, n1);
}

}  // namespace

const QuantKernels& quant_kernels_avx512bf16() {
  const QuantKernels& base = quant_kernels_avx512();
  static const QuantKernels k{"avx512bf16",       base.int4_block, base.gemv,  base.dequant_row,
                              base.dequant_range, &split_bf16,     &gemv_bf16, base.int4_premix};
  return k;
}

}  // namespace porta::cpu
#endif
