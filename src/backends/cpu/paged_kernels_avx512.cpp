// Integer-dot kernels of the cpu paged attention for int8 caches (AVX-512 VNNI). Scores: q is
// rounded to int16 against its row max (16 significant bits, more than the f16/bf16 query
// carries) and q . k summed exactly in int32 by VPDPWSSD, 32 products per instruction where
// the float path needs two conversions and two FMAs per 16. Weights: p * v_scale of a step
// rounded to int16 against the row's max (relative error <= 2^-16 of the largest weight of
// the step), the products with the V codes summed exactly in int32 over the step, then
// scaled into the f32 accumulator once per step. Half the instructions of the float path
// per key, which is what an int8 cache needs: half the bytes of f16 for the same math.
// step_i8 runs a whole 64-key step of 4 rows (scores, mask, online softmax, weights, values)
// with the scores and weights kept in 4x4 tiles on the stack. Zen 4 per key and 4 rows
// (L1-resident, one core): 32 VPDPWSSD (16 q.k, 16 p.v), whose ~16 + ~16 cycles are most of
// the ~50; the 4x4 tiles' add trees (~7 cycles) and the softmax (~4) take most of the rest.
#if defined(PORTA_CPU_X86)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backends/cpu/paged_kernels.h"
#include "backends/cpu/simd_avx512.h"

#define PORTA_VNNI __attribute__((target("avx512vnni")))

namespace porta::cpu::avx512 {
namespace {

constexpr int64_t kMaxKeys = 64;  // keys per call at most (a step)

inline void prefetch_lines(const char* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T1);
}

// Row pointers of the spans' keys one after another (at most kMaxKeys); pf: the rows to
// prefetch (pf 0: the row itself). Eight pointers per store (a scalar loop was a quarter of
// the int8 step's work outside the dot products).
int64_t flatten(const KvRows* spans, int nspans, int64_t stride, const char** rows, const char** pf) {
  const __m512i step =
      _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(stride));
  int64_t n = 0;
  for (int i = 0; i < nspans && n < kMaxKeys; ++i) {
    const int64_t cnt = std::min(spans[i].n, kMaxKeys - n);
    __m512i r = _mm512_add_epi64(_mm512_set1_epi64(reinterpret_cast<int64_t>(spans[i].p)), step);
    const __m512i off = _mm512_set1_epi64(spans[i].pf), adv = _mm512_set1_epi64(8 * stride);
    for (int64_t j = 0; j < cnt; j += 8, r = _mm512_add_epi64(r, adv)) {
      const __mmask8 k = cnt - j >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << (cnt - j)) - 1u);
      _mm512_mask_storeu_epi64(rows + n + j, k, r);
      _mm512_mask_storeu_epi64(pf + n + j, k, _mm512_add_epi64(r, off));
    }
    n += cnt;
  }
  return n;
}

// acc += the int16 pair products of a and b summed per int32 lane (VPDPWSSD). Inline asm:
// around the intrinsic's tied operand GCC copied every accumulator of a tile to another
// register and back each iteration (32 moves and 2 spills per 16 VPDPWSSD).
PORTA_VNNI inline void dpwssd(__m512i& acc, __m512i a, __m512i b) {
  __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
}

// A zeroed accumulator of its own: accumulators copied from one zero register were given a
// register each and copied back and forth every iteration.
PORTA_VNNI inline __m512i zero() {
  __m512i z;
  __asm__ volatile("vpxord %0, %0, %0" : "=v"(z));
  return z;
}

// Sixteen horizontal int32 sums in one vector: lane 4k + t of the result is the sum of the
// lanes of v[4k + t]. The in-lane levels go first (32- then 64-bit interleaves, which issue
// beside VPDPWSSD), the two cross-quarter levels last: 6 cross-lane shuffles instead of 24.
PORTA_VNNI inline __m512i hsum16(__m512i v0, __m512i v1, __m512i v2, __m512i v3, __m512i v4, __m512i v5,
                                 __m512i v6, __m512i v7, __m512i v8, __m512i v9, __m512i v10, __m512i v11,
                                 __m512i v12, __m512i v13, __m512i v14, __m512i v15) {
  auto l1 = [](__m512i a, __m512i b) {  // lanes {a, b, a, b} of each quarter
    return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  };
  auto l2 = [](__m512i a, __m512i b) {  // lanes {a0, a1, b0, b1} of each quarter
    return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
  };
  auto l3 = [](__m512i a, __m512i b) {  // quarters {a0+a2, a1+a3, b0+b2, b1+b3}
    return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x44), _mm512_shuffle_i32x4(a, b, 0xEE));
  };
  auto l4 = [](__m512i a, __m512i b) {  // quarters {a0+a1, a2+a3, b0+b1, b2+b3}
    return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xDD));
  };
  const __m512i w0 = l2(l1(v0, v1), l1(v2, v3)), w1 = l2(l1(v4, v5), l1(v6, v7));
  const __m512i w2 = l2(l1(v8, v9), l1(v10, v11)), w3 = l2(l1(v12, v13), l1(v14, v15));
  return l4(l3(w0, w1), l3(w2, w3));
}

// Rows (<= 4) query rows x 4 keys: lane 4r + t = qk[4r] * ks[t] * (q_r . k_t) (qk: each row's
// qscale in its quarter; ks: the 4 keys' scales in each quarter). Named accumulators (GCC
// keeps array tiles on the stack).
template <int Rows>
PORTA_VNNI inline __m512 score_tile(const int16_t* q, int64_t D, const char* const* k, const char* const* pf,
                                    __m512 qk, __m512 ks) {
  __m512i c00 = zero(), c01 = zero(), c02 = zero(), c03 = zero(), c10 = zero(), c11 = zero(), c12 = zero(),
          c13 = zero(), c20 = zero(), c21 = zero(), c22 = zero(), c23 = zero(), c30 = zero(), c31 = zero(),
          c32 = zero(), c33 = zero();
  for (int x = 0; x < 4; ++x) prefetch_lines(pf[x], D);
  const char *k0p = k[0], *k1p = k[1], *k2p = k[2], *k3p = k[3];
  for (int64_t d = 0; d < D; d += 32) {
    const __m512i k0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k0p + d)));
    const __m512i k1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k1p + d)));
    const __m512i k2 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k2p + d)));
    const __m512i k3 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k3p + d)));
    __m512i qv = _mm512_loadu_si512(q + d);
    dpwssd(c00, qv, k0), dpwssd(c01, qv, k1), dpwssd(c02, qv, k2), dpwssd(c03, qv, k3);
    if constexpr (Rows > 1) {
      qv = _mm512_loadu_si512(q + D + d);
      dpwssd(c10, qv, k0), dpwssd(c11, qv, k1), dpwssd(c12, qv, k2), dpwssd(c13, qv, k3);
    }
    if constexpr (Rows > 2) {
      qv = _mm512_loadu_si512(q + 2 * D + d);
      dpwssd(c20, qv, k0), dpwssd(c21, qv, k1), dpwssd(c22, qv, k2), dpwssd(c23, qv, k3);
    }
    if constexpr (Rows > 3) {
      qv = _mm512_loadu_si512(q + 3 * D + d);
      dpwssd(c30, qv, k0), dpwssd(c31, qv, k1), dpwssd(c32, qv, k2), dpwssd(c33, qv, k3);
    }
  }
  // Quarter r of the sums is row r, lane t key t.
  return _mm512_mul_ps(_mm512_mul_ps(qk, ks),
                       _mm512_cvtepi32_ps(hsum16(c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23,
                                                 c30, c31, c32, c33)));
}

// The tile stored at out[row*ld + key] for the first `keys` keys.
template <int Rows>
PORTA_VNNI void scores_tile(const int16_t* q, int64_t D, const char* const* k, const char* const* pf,
                            int keys, __m512 qk, __m512 ks, int64_t ld, float* out) {
  const __m512 t = score_tile<Rows>(q, D, k, pf, qk, ks);
  const __mmask8 m = static_cast<__mmask8>((1u << keys) - 1u);
  _mm_mask_storeu_ps(out, m, _mm512_castps512_ps128(t));
  if constexpr (Rows > 1) _mm_mask_storeu_ps(out + ld, m, _mm512_extractf32x4_ps(t, 1));
  if constexpr (Rows > 2) _mm_mask_storeu_ps(out + 2 * ld, m, _mm512_extractf32x4_ps(t, 2));
  if constexpr (Rows > 3) _mm_mask_storeu_ps(out + 3 * ld, m, _mm512_extractf32x4_ps(t, 3));
}

template <int Rows>
PORTA_VNNI void scores_rows(const int16_t* q, const float* qscale, int64_t D, const char* const* k,
                            const char* const* pf, const float* kscale, int64_t n, int64_t ld, float* s) {
  alignas(64) float qs[16] = {};
  for (int r = 0; r < Rows; ++r)
    for (int t = 0; t < 4; ++t) qs[4 * r + t] = qscale[r];
  const __m512 qk = _mm512_load_ps(qs);
  for (int64_t j = 0; j < n; j += 4) {
    const int keys = static_cast<int>(std::min<int64_t>(4, n - j));
    const __m512 ks =
        _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(static_cast<__mmask8>((1u << keys) - 1u), kscale + j));
    if (keys == 4) {
      scores_tile<Rows>(q, D, k + j, pf + j, 4, qk, ks, ld, s + j);
    } else {  // last keys: the final row stands in for the missing ones (not stored)
      const char *kk[4], *pp[4];
      for (int x = 0; x < 4; ++x) kk[x] = k[j + std::min(x, keys - 1)], pp[x] = pf[j + std::min(x, keys - 1)];
      scores_tile<Rows>(q, D, kk, pp, keys, qk, ks, ld, s + j);
    }
  }
}

// The weights of one row rounded to int16 against their max; returns the scale (0: no weight).
PORTA_VNNI float quantize_weights(const float* p, const float* vscale, int64_t n, int64_t n_even,
                                  int16_t* w) {
  alignas(64) float x[kMaxKeys];
  __m512 mx = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1u);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + j), _mm512_maskz_loadu_ps(k, vscale + j));
    _mm512_store_ps(x + j, v);
    mx = _mm512_max_ps(mx, v);
  }
  const float wmax = _mm512_reduce_max_ps(mx);
  if (!(wmax > 0.0f)) {
    std::fill_n(w, n_even, int16_t{0});
    return 0.0f;
  }
  const __m512 inv = _mm512_set1_ps(32767.0f / wmax);
  for (int64_t j = 0; j < n_even; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xFFFF)
                        : n > j     ? static_cast<__mmask16>((1u << (n - j)) - 1u)
                                    : 0;
    const __m512i q = _mm512_cvtps_epi32(_mm512_maskz_mul_ps(k, _mm512_load_ps(x + j), inv));
    const __mmask16 st =
        n_even - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n_even - j)) - 1u);
    _mm256_mask_storeu_epi16(w + j, st, _mm512_cvtepi32_epi16(q));
  }
  return wmax / 32767.0f;
}

// The int16 weights of keys j and j + 1 (w points at key j) as one broadcast int32.
inline __m512i pair(const int16_t* w) {
  int32_t x;
  std::memcpy(&x, w, sizeof x);
  return _mm512_set1_epi32(x);
}

// acc[0, 32 * Cols) += scale * the sums of one row: columns back in order, {a.q0, a.q1, b.q0,
// b.q1} are columns 0-15 and {a.q2, a.q3, b.q2, b.q3} 16-31 of each 32.
template <int Cols>
PORTA_VNNI inline void store_sums(__m512i a0, __m512i b0, __m512i a1, __m512i b1, float scale, float* acc) {
  if (scale == 0.0f) return;
  const __m512 sc = _mm512_set1_ps(scale);
  auto put = [](__m512 s, __m512i x, float* o) {
    _mm512_storeu_ps(o, _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(x), _mm512_loadu_ps(o)));
  };
  put(sc, _mm512_shuffle_i32x4(a0, b0, 0x44), acc);
  put(sc, _mm512_shuffle_i32x4(a0, b0, 0xEE), acc + 16);
  if constexpr (Cols > 1) {
    put(sc, _mm512_shuffle_i32x4(a1, b1, 0x44), acc + 32);
    put(sc, _mm512_shuffle_i32x4(a1, b1, 0xEE), acc + 48);
  }
}

// Rows (<= 4) rows x Cols (1 or 2) * 32 columns of D at column c0: the int32 sums of w * v over
// the key pairs, then acc += scale * sum. A key pair's codes are interleaved byte by byte and
// widened to int16 pairs, so VPDPWSSD adds both keys' products per lane: lanes hold the columns
// {0-7, 16-23} (a) and {8-15, 24-31} (b) of each 32.
template <int Rows, int Cols>
__attribute__((noinline)) PORTA_VNNI void accumulate_tile(const int16_t* w, int64_t ldw, const float* scale,
                                                          const char* const* v, const char* const* pf,
                                                          int64_t n_even, int64_t c0, int64_t D, float* acc) {
  const __m512i z = _mm512_setzero_si512();
  __m512i a00 = zero(), b00 = zero(), a01 = zero(), b01 = zero(), a10 = zero(), b10 = zero(), a11 = zero(),
          b11 = zero(), a20 = zero(), b20 = zero(), a21 = zero(), b21 = zero(), a30 = zero(), b30 = zero(),
          a31 = zero(), b31 = zero();
  for (int64_t j = 0; j < n_even; j += 2) {
    _mm_prefetch(pf[j] + c0, _MM_HINT_T1);  // (no branch: GCC then kept the accumulators in place)
    _mm_prefetch(pf[j + 1] + c0, _MM_HINT_T1);
    const char* x = v[j] + c0;
    const char* y = v[j + 1] + c0;
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y));
    const __m512i va0 = _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(x0, y0));
    const __m512i vb0 = _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(x0, y0));
    __m512i va1 = z, vb1 = z;
    if constexpr (Cols > 1) {
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32));
      va1 = _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(x1, y1));
      vb1 = _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(x1, y1));
    }
    __m512i wr = pair(w + j);
    dpwssd(a00, va0, wr), dpwssd(b00, vb0, wr);
    if constexpr (Cols > 1) dpwssd(a01, va1, wr), dpwssd(b01, vb1, wr);
    if constexpr (Rows > 1) {
      wr = pair(w + ldw + j);
      dpwssd(a10, va0, wr), dpwssd(b10, vb0, wr);
      if constexpr (Cols > 1) dpwssd(a11, va1, wr), dpwssd(b11, vb1, wr);
    }
    if constexpr (Rows > 2) {
      wr = pair(w + 2 * ldw + j);
      dpwssd(a20, va0, wr), dpwssd(b20, vb0, wr);
      if constexpr (Cols > 1) dpwssd(a21, va1, wr), dpwssd(b21, vb1, wr);
    }
    if constexpr (Rows > 3) {
      wr = pair(w + 3 * ldw + j);
      dpwssd(a30, va0, wr), dpwssd(b30, vb0, wr);
      if constexpr (Cols > 1) dpwssd(a31, va1, wr), dpwssd(b31, vb1, wr);
    }
  }
  if constexpr (Rows > 0) store_sums<Cols>(a00, b00, a01, b01, scale[0], acc + c0);
  if constexpr (Rows > 1) store_sums<Cols>(a10, b10, a11, b11, scale[1], acc + D + c0);
  if constexpr (Rows > 2) store_sums<Cols>(a20, b20, a21, b21, scale[2], acc + 2 * D + c0);
  if constexpr (Rows > 3) store_sums<Cols>(a30, b30, a31, b31, scale[3], acc + 3 * D + c0);
}

template <int Rows>
PORTA_VNNI void accumulate_rows(const int16_t* w, int64_t ldw, const float* scale, const char* const* v,
                                const char* const* pf, int64_t n_even, int64_t D, float* acc) {
  int64_t c = 0;
  for (; c + 64 <= D; c += 64) accumulate_tile<Rows, 2>(w, ldw, scale, v, pf, n_even, c, D, acc);
  if (c < D) accumulate_tile<Rows, 1>(w, ldw, scale, v, pf, n_even, c, D, acc);  // D % 64 == 32
}

// Each row's value in all four lanes of its quarter: v[0] in lanes 0-3, v[1] in 4-7, ...
PORTA_VNNI inline __m512 per_quarter(__m128 v) {
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                               _mm512_castps128_ps512(v));
}
// Lanes 0, 4, 8, 12 (one per quarter) as four floats.
PORTA_VNNI inline __m128 quarter_firsts(__m512 v) {
  return _mm512_castps512_ps128(
      _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), v));
}
// The max / sum of each quarter in all its lanes (in-lane shuffles only).
PORTA_VNNI inline __m512 quarter_max(__m512 v) {
  v = _mm512_max_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_max_ps(v, _mm512_permute_ps(v, 0x4E));
}
PORTA_VNNI inline __m512 quarter_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
}

// The 4-row step's values: acc[r] = corr[r] * acc[r] + scale[r] * sum over the key pairs of
// the int16 weights w (tile layout: key j of row r at w[(j / 4) * 16 + 4 r + j % 4]) times the
// V codes, Cols (1 or 2) * 32 columns from c0. Layout of the int32 sums as accumulate_tile's.
template <int Cols>
__attribute__((noinline)) PORTA_VNNI void step_values(const int16_t* w, const char* const* v,
                                                      const char* const* pf, int64_t n_even, int64_t c0,
                                                      __m512 corr, __m512 scale, int64_t D, float* acc) {
  const __m512i z = _mm512_setzero_si512();
  __m512i a00 = zero(), b00 = zero(), a01 = zero(), b01 = zero(), a10 = zero(), b10 = zero(), a11 = zero(),
          b11 = zero(), a20 = zero(), b20 = zero(), a21 = zero(), b21 = zero(), a30 = zero(), b30 = zero(),
          a31 = zero(), b31 = zero();
  for (int64_t j = 0; j < n_even; j += 2) {
    _mm_prefetch(pf[j] + c0, _MM_HINT_T1);
    _mm_prefetch(pf[j + 1] + c0, _MM_HINT_T1);
    const char* x = v[j] + c0;
    const char* y = v[j + 1] + c0;
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y));
    const __m512i va0 = _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(x0, y0));
    const __m512i vb0 = _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(x0, y0));
    __m512i va1 = z, vb1 = z;
    if constexpr (Cols > 1) {
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32));
      va1 = _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(x1, y1));
      vb1 = _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(x1, y1));
    }
    const int16_t* wj = w + (j >> 2) * 16 + (j & 3);
    __m512i wr = pair(wj);
    dpwssd(a00, va0, wr), dpwssd(b00, vb0, wr);
    if constexpr (Cols > 1) dpwssd(a01, va1, wr), dpwssd(b01, vb1, wr);
    wr = pair(wj + 4);
    dpwssd(a10, va0, wr), dpwssd(b10, vb0, wr);
    if constexpr (Cols > 1) dpwssd(a11, va1, wr), dpwssd(b11, vb1, wr);
    wr = pair(wj + 8);
    dpwssd(a20, va0, wr), dpwssd(b20, vb0, wr);
    if constexpr (Cols > 1) dpwssd(a21, va1, wr), dpwssd(b21, vb1, wr);
    wr = pair(wj + 12);
    dpwssd(a30, va0, wr), dpwssd(b30, vb0, wr);
    if constexpr (Cols > 1) dpwssd(a31, va1, wr), dpwssd(b31, vb1, wr);
  }
  alignas(16) float c[4], sc[4];
  _mm_store_ps(c, quarter_firsts(corr));
  _mm_store_ps(sc, quarter_firsts(scale));
  auto put = [](__m512 cr, __m512 s, __m512i x, float* o) {
    _mm512_storeu_ps(o, _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(x), _mm512_mul_ps(cr, _mm512_loadu_ps(o))));
  };
  auto row = [&](int r, __m512i a0, __m512i b0, __m512i a1, __m512i b1) {
    const __m512 cr = _mm512_set1_ps(c[r]), s = _mm512_set1_ps(sc[r]);
    float* o = acc + r * D + c0;
    put(cr, s, _mm512_shuffle_i32x4(a0, b0, 0x44), o);
    put(cr, s, _mm512_shuffle_i32x4(a0, b0, 0xEE), o + 16);
    if constexpr (Cols > 1) {
      put(cr, s, _mm512_shuffle_i32x4(a1, b1, 0x44), o + 32);
      put(cr, s, _mm512_shuffle_i32x4(a1, b1, 0xEE), o + 48);
    }
  };
  row(0, a00, b00, a01, b01);
  row(1, a10, b10, a11, b11);
  row(2, a20, b20, a21, b21);
  row(3, a30, b30, a31, b31);
}

}  // namespace

bool has_vnni() {
  static const bool yes = __builtin_cpu_supports("avx512vnni");
  return yes;
}

PORTA_VNNI void scores_i8(const int16_t* q16, const float* qscale, int64_t R, int64_t D, const KvRows* spans,
                          int nspans, int64_t ks, const float* kscale, int64_t ld, float* s) {
  const char* rows[kMaxKeys];
  const char* pf[kMaxKeys];
  const int64_t n = flatten(spans, nspans, ks, rows, pf);
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) scores_rows<4>(q16 + r * D, qscale + r, D, rows, pf, kscale, n, ld, s + r * ld);
  switch (R - r) {
    case 3: scores_rows<3>(q16 + r * D, qscale + r, D, rows, pf, kscale, n, ld, s + r * ld); break;
    case 2: scores_rows<2>(q16 + r * D, qscale + r, D, rows, pf, kscale, n, ld, s + r * ld); break;
    case 1: scores_rows<1>(q16 + r * D, qscale + r, D, rows, pf, kscale, n, ld, s + r * ld); break;
    default: break;
  }
}

PORTA_VNNI void accumulate_i8(const float* p, const float* vscale, int64_t R, int64_t ld, const KvRows* spans,
                              int nspans, int64_t vs, int64_t D, float* acc) {
  const char* rows[kMaxKeys + 1];
  const char* pf[kMaxKeys + 1];
  const int64_t n = flatten(spans, nspans, vs, rows, pf);
  if (n == 0) return;
  const int64_t n_even = (n + 1) / 2 * 2;
  if (n_even != n) rows[n] = rows[n - 1], pf[n] = pf[n - 1];  // weight 0
  alignas(64) int16_t w[4 * kMaxKeys];
  float scale[4];
  for (int64_t r = 0; r < R; r += 4) {
    const int rows_here = static_cast<int>(std::min<int64_t>(4, R - r));
    for (int i = 0; i < rows_here; ++i)
      scale[i] = quantize_weights(p + (r + i) * ld, vscale, n, n_even, w + i * n_even);
    float* a = acc + r * D;
    switch (rows_here) {
      case 4: accumulate_rows<4>(w, n_even, scale, rows, pf, n_even, D, a); break;
      case 3: accumulate_rows<3>(w, n_even, scale, rows, pf, n_even, D, a); break;
      case 2: accumulate_rows<2>(w, n_even, scale, rows, pf, n_even, D, a); break;
      default: accumulate_rows<1>(w, n_even, scale, rows, pf, n_even, D, a); break;
    }
  }
}

unsigned scales_by_head8(const float* const* key, int64_t n, float* out, int64_t ld) {
  const __m256 big = _mm256_set1_ps(std::numeric_limits<float>::max());
  unsigned finite = 0xFF;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {  // 8x8 transposes: 8 keys' rows of 8 heads -> 8 heads' runs of 8 keys
    __m256 r[8], t[8];
    for (int x = 0; x < 8; ++x) r[x] = _mm256_loadu_ps(key[j + x]);
    for (int x = 0; x < 8; x += 2)
      t[x] = _mm256_unpacklo_ps(r[x], r[x + 1]), t[x + 1] = _mm256_unpackhi_ps(r[x], r[x + 1]);
    for (int x = 0; x < 8; x += 4)
      for (int y = 0; y < 2; ++y) {
        r[x + y] = _mm256_shuffle_ps(t[x + y], t[x + y + 2], 0x44);
        r[x + y + 2] = _mm256_shuffle_ps(t[x + y], t[x + y + 2], 0xEE);
      }
    // r[0..3]: heads {0,4}, {2,6}, {1,5}, {3,7} of keys j..j+3 (by 128-bit half); r[4..7] keys j+4..j+7.
    const int head_of[4] = {0, 2, 1, 3};
    for (int x = 0; x < 4; ++x) {
      const __m256 lo = _mm256_permute2f128_ps(r[x], r[x + 4], 0x20),
                   hi = _mm256_permute2f128_ps(r[x], r[x + 4], 0x31);
      const int h = head_of[x];
      _mm256_storeu_ps(out + h * ld + j, lo);
      _mm256_storeu_ps(out + (h + 4) * ld + j, hi);
      if (_mm256_cmp_ps_mask(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), lo), big, _CMP_LE_OQ) != 0xFF)
        finite &= ~(1u << h);
      if (_mm256_cmp_ps_mask(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), hi), big, _CMP_LE_OQ) != 0xFF)
        finite &= ~(1u << (h + 4));
    }
  }
  for (; j < n; ++j)
    for (int h = 0; h < 8; ++h) {
      out[h * ld + j] = key[j][h];
      if (!(std::fabs(key[j][h]) <= std::numeric_limits<float>::max())) finite &= ~(1u << h);
    }
  return finite;
}

PORTA_VNNI bool quantize_q16(const float* q, int64_t D, int16_t* out, float* scale) {
  __m512 mx = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int64_t d = 0; d < D; d += 16) {
    const __m512 x = _mm512_loadu_ps(q + d);
    mx = _mm512_max_ps(mx, _mm512_abs_ps(x));
    nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  }
  const float m = _mm512_reduce_max_ps(mx);
  if (nan != 0 || !(m <= std::numeric_limits<float>::max())) return false;
  *scale = m / 32767.0f;
  const __m512 inv = _mm512_set1_ps(m > 0.0f ? 32767.0f / m : 0.0f);
  const __m512 half = _mm512_set1_ps(0.5f), sign = _mm512_set1_ps(-0.0f);
  for (int64_t d = 0; d < D; d += 16) {  // half away from zero, as the scalar loop it replaced
    const __m512 x = _mm512_loadu_ps(q + d);
    const __m512 y = _mm512_add_ps(_mm512_mul_ps(x, inv), _mm512_or_ps(half, _mm512_and_ps(x, sign)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + d), _mm512_cvtepi32_epi16(_mm512_cvttps_epi32(y)));
  }
  return true;
}

PORTA_VNNI void step_i8(const int16_t* q16, const float* qscale, int64_t D, const KvRows* kspans,
                        const KvRows* vspans, int nspans, int64_t ks, int64_t vs, const float* kscale,
                        const float* vscale, const int64_t* below, const int64_t* visible, float* m, float* l,
                        float* acc) {
  const char* rows[kMaxKeys + 4];
  const char* pf[kMaxKeys + 4];
  const int64_t n = flatten(kspans, nspans, ks, rows, pf);
  if (n == 0) return;
  const int64_t tiles = (n + 3) / 4;
  for (int64_t j = n; j < 4 * tiles; ++j) rows[j] = rows[n - 1], pf[j] = pf[n - 1];  // scores masked below
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  // Scores, tile g holding keys 4g..4g+3 of the four rows (quarter r: row r).
  alignas(64) float st[kMaxKeys * 4];
  const __m512 qk = per_quarter(_mm_loadu_ps(qscale));
  auto scales4 = [n](const float* sc, int64_t j) {  // (keys past n: 0)
    return _mm512_broadcast_f32x4(
        j + 4 <= n ? _mm_loadu_ps(sc + j)
                   : _mm_maskz_loadu_ps(static_cast<__mmask8>((1u << (n - j)) - 1u), sc + j));
  };
  for (int64_t g = 0; g < tiles; ++g)
    _mm512_store_ps(st + 16 * g, score_tile<4>(q16, D, rows + 4 * g, pf + 4 * g, qk, scales4(kscale, 4 * g)));
  // Keys outside [below, visible) of a row (and past n) score -inf.
  alignas(64) int32_t lo_q[16], hi_q[16];
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 4; ++t)
      lo_q[4 * r + t] = static_cast<int32_t>(below[r]), hi_q[4 * r + t] = static_cast<int32_t>(visible[r]);
  const __m512i vlo = _mm512_load_si512(lo_q), vhi = _mm512_load_si512(hi_q);
  const bool full = n % 4 == 0 && below[0] == 0 && below[1] == 0 && below[2] == 0 && below[3] == 0 &&
                    visible[0] >= n && visible[1] >= n && visible[2] >= n && visible[3] >= n;
  __m512 mx0 = ninf, mx1 = ninf;  // (two chains each here and below)
  for (int64_t g = 0; g < tiles; ++g) {
    __m512 t = _mm512_load_ps(st + 16 * g);
    if (!full) {
      const __m512i key = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3),
                                           _mm512_set1_epi32(static_cast<int>(4 * g)));
      const __mmask16 ok = _mm512_cmpge_epi32_mask(key, vlo) & _mm512_cmplt_epi32_mask(key, vhi);
      t = _mm512_mask_mov_ps(ninf, ok, t);
      _mm512_store_ps(st + 16 * g, t);
    }
    (g & 1 ? mx1 : mx0) = _mm512_max_ps(g & 1 ? mx1 : mx0, t);
  }
  // The online-softmax update of online_softmax (attention_blocks_avx512.cpp), per quarter.
  const __m512 m_old = per_quarter(_mm_loadu_ps(m));
  const __m512 m_new = _mm512_max_ps(m_old, quarter_max(_mm512_max_ps(mx0, mx1)));
  _mm_storeu_ps(m, quarter_firsts(m_new));
  // A row that has seen no key subtracts 0, not -inf: its weights and factor become 0, not NaN.
  const __m512 sub =
      _mm512_mask_mov_ps(m_new, _mm512_cmp_ps_mask(m_new, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
  const __m512 corr = simd512::exp_ps(_mm512_sub_ps(m_old, sub));
  __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0, wmax0 = sum0, wmax1 = sum0;
  for (int64_t g = 0; g < tiles; g += 2) {
    const __m512 p0 = simd512::exp_ps(_mm512_sub_ps(_mm512_load_ps(st + 16 * g), sub));
    const __m512 w0 = _mm512_mul_ps(p0, scales4(vscale, 4 * g));
    _mm512_store_ps(st + 16 * g, w0);
    sum0 = _mm512_add_ps(sum0, p0);
    wmax0 = _mm512_max_ps(wmax0, _mm512_abs_ps(w0));
    if (g + 1 < tiles) {
      const __m512 p1 = simd512::exp_ps(_mm512_sub_ps(_mm512_load_ps(st + 16 * g + 16), sub));
      const __m512 w1 = _mm512_mul_ps(p1, scales4(vscale, 4 * g + 4));
      _mm512_store_ps(st + 16 * g + 16, w1);
      sum1 = _mm512_add_ps(sum1, p1);
      wmax1 = _mm512_max_ps(wmax1, _mm512_abs_ps(w1));
    }
  }
  const __m512 sum = _mm512_add_ps(sum0, sum1);
  __m512 wmax = _mm512_max_ps(wmax0, wmax1);
  _mm_storeu_ps(l, _mm_fmadd_ps(_mm_loadu_ps(l), quarter_firsts(corr), quarter_firsts(quarter_sum(sum))));
  // Each row's weights p * v_scale rounded to int16 against their max.
  wmax = quarter_max(wmax);
  const __mmask16 some = _mm512_cmp_ps_mask(wmax, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 inv = _mm512_maskz_div_ps(some, _mm512_set1_ps(32767.0f), wmax);
  const __m512 scale = _mm512_maskz_mul_ps(some, wmax, _mm512_set1_ps(1.0f / 32767.0f));
  alignas(64) int16_t w16[kMaxKeys * 4 + 16];
  for (int64_t g = 0; g < tiles; ++g)
    _mm256_store_si256(
        reinterpret_cast<__m256i*>(w16 + 16 * g),
        _mm512_cvtepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_load_ps(st + 16 * g), inv))));
  // Values.
  const int64_t nv = flatten(vspans, nspans, vs, rows, pf);
  const int64_t n_even = (nv + 1) / 2 * 2;
  if (n_even != nv) rows[nv] = rows[nv - 1], pf[nv] = pf[nv - 1];  // weight 0 (masked)
  int64_t c = 0;
  for (; c + 64 <= D; c += 64) step_values<2>(w16, rows, pf, n_even, c, corr, scale, D, acc);
  if (c < D) step_values<1>(w16, rows, pf, n_even, c, corr, scale, D, acc);  // D % 64 == 32
}

}  // namespace porta::cpu::avx512
#endif
