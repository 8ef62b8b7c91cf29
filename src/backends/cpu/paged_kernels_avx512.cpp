// Integer-dot kernels of the cpu paged attention for int8 caches (AVX-512 VNNI). Scores: q is
// rounded to int16 against its row max (16 significant bits, more than the f16/bf16 query
// carries) and q . k summed exactly in int32 by VPDPWSSD, 32 products per instruction where
// the float path needs two conversions and two FMAs per 16. Weights: p * v_scale of a step
// rounded to int16 against the row's max (relative error <= 2^-16 of the largest weight of
// the step), the products with the V codes summed exactly in int32 over the step, then
// scaled into the f32 accumulator once per step. Half the instructions of the float path
// per key, which is what an int8 cache needs: half the bytes of f16 for the same math.
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

#define PORTA_VNNI __attribute__((target("avx512vnni")))

namespace porta::cpu::avx512 {
namespace {

constexpr int64_t kMaxKeys = 64;  // keys per call at most (a step)

inline void prefetch_lines(const char* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T1);
}

// Row pointers of the spans' keys one after another; pf: the rows to prefetch (null: none).
int64_t flatten(const KvRows* spans, int nspans, int64_t stride, const char** rows, const char** pf) {
  int64_t n = 0;
  for (int i = 0; i < nspans; ++i) {
    const char* p = static_cast<const char*>(spans[i].p);
    for (int64_t j = 0; j < spans[i].n && n < kMaxKeys; ++j, ++n) {
      rows[n] = p + j * stride;
      pf[n] = spans[i].pf != 0 ? rows[n] + spans[i].pf : nullptr;
    }
  }
  return n;
}

// Sixteen horizontal int32 sums in one vector (the transposing add tree of the float kernels,
// attention_blocks_avx512.cpp): quarter q of the result holds the sums of v[4*rho(q) + sigma(t)]
// in lane t, rho = sigma = {0, 2, 1, 3}.
PORTA_VNNI inline __m512i hsum16(__m512i v0, __m512i v1, __m512i v2, __m512i v3, __m512i v4, __m512i v5,
                                 __m512i v6, __m512i v7, __m512i v8, __m512i v9, __m512i v10, __m512i v11,
                                 __m512i v12, __m512i v13, __m512i v14, __m512i v15) {
#define PORTA_L1(a, b) _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x44), _mm512_shuffle_i32x4(a, b, 0xEE))
#define PORTA_L2(a, b) _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xDD))
#define PORTA_L3(a, b) _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
#define PORTA_L4(a, b)                                                                              \
  _mm512_add_epi32(                                                                                 \
      _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), 0x88)), \
      _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), 0xDD)))
  const __m512i c0 = PORTA_L1(v0, v8), c1 = PORTA_L1(v1, v9), c2 = PORTA_L1(v2, v10), c3 = PORTA_L1(v3, v11);
  const __m512i c4 = PORTA_L1(v4, v12), c5 = PORTA_L1(v5, v13), c6 = PORTA_L1(v6, v14),
                c7 = PORTA_L1(v7, v15);
  const __m512i d0 = PORTA_L2(c0, c4), d1 = PORTA_L2(c1, c5), d2 = PORTA_L2(c2, c6), d3 = PORTA_L2(c3, c7);
  const __m512i e0 = PORTA_L3(d0, d2), e1 = PORTA_L3(d1, d3);
  return PORTA_L4(e0, e1);
#undef PORTA_L1
#undef PORTA_L2
#undef PORTA_L3
#undef PORTA_L4
}

// Rows (<= 4) query rows x 4 keys of int32 dot products, stored as floats at out[row*ld + key]
// for the first `keys` keys. Named accumulators (GCC keeps array tiles on the stack).
template <int Rows>
PORTA_VNNI void scores_tile(const int16_t* q, int64_t D, const char* const* k, const char* const* pf,
                            int keys, int64_t ld, float* out) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512i c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  for (int x = 0; x < 4; ++x)
    if (pf[x] != nullptr) prefetch_lines(pf[x], D);
  for (int64_t d = 0; d < D; d += 32) {
    const __m512i k0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k[0] + d)));
    const __m512i k1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k[1] + d)));
    const __m512i k2 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k[2] + d)));
    const __m512i k3 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k[3] + d)));
    __m512i qv = _mm512_loadu_si512(q + d);
    c00 = _mm512_dpwssd_epi32(c00, qv, k0), c01 = _mm512_dpwssd_epi32(c01, qv, k1);
    c02 = _mm512_dpwssd_epi32(c02, qv, k2), c03 = _mm512_dpwssd_epi32(c03, qv, k3);
    if constexpr (Rows > 1) {
      qv = _mm512_loadu_si512(q + D + d);
      c10 = _mm512_dpwssd_epi32(c10, qv, k0), c11 = _mm512_dpwssd_epi32(c11, qv, k1);
      c12 = _mm512_dpwssd_epi32(c12, qv, k2), c13 = _mm512_dpwssd_epi32(c13, qv, k3);
    }
    if constexpr (Rows > 2) {
      qv = _mm512_loadu_si512(q + 2 * D + d);
      c20 = _mm512_dpwssd_epi32(c20, qv, k0), c21 = _mm512_dpwssd_epi32(c21, qv, k1);
      c22 = _mm512_dpwssd_epi32(c22, qv, k2), c23 = _mm512_dpwssd_epi32(c23, qv, k3);
    }
    if constexpr (Rows > 3) {
      qv = _mm512_loadu_si512(q + 3 * D + d);
      c30 = _mm512_dpwssd_epi32(c30, qv, k0), c31 = _mm512_dpwssd_epi32(c31, qv, k1);
      c32 = _mm512_dpwssd_epi32(c32, qv, k2), c33 = _mm512_dpwssd_epi32(c33, qv, k3);
    }
  }
  // Keys in hsum16's sigma order; quarter q of the sums is row rho(q).
  const __m512 t = _mm512_cvtepi32_ps(
      hsum16(c00, c02, c01, c03, c10, c12, c11, c13, c20, c22, c21, c23, c30, c32, c31, c33));
  const __mmask8 m = static_cast<__mmask8>((1u << keys) - 1u);
  _mm_mask_storeu_ps(out, m, _mm512_extractf32x4_ps(t, 0));
  if constexpr (Rows > 1) _mm_mask_storeu_ps(out + ld, m, _mm512_extractf32x4_ps(t, 2));
  if constexpr (Rows > 2) _mm_mask_storeu_ps(out + 2 * ld, m, _mm512_extractf32x4_ps(t, 1));
  if constexpr (Rows > 3) _mm_mask_storeu_ps(out + 3 * ld, m, _mm512_extractf32x4_ps(t, 3));
}

template <int Rows>
PORTA_VNNI void scores_rows(const int16_t* q, int64_t D, const char* const* k, const char* const* pf,
                            int64_t n, int64_t ld, float* s) {
  for (int64_t j = 0; j < n; j += 4) {
    const int keys = static_cast<int>(std::min<int64_t>(4, n - j));
    if (keys == 4) {
      scores_tile<Rows>(q, D, k + j, pf + j, 4, ld, s + j);
    } else {  // last keys: the final row stands in for the missing ones (not stored)
      const char* kk[4];
      const char* pp[4] = {nullptr, nullptr, nullptr, nullptr};
      for (int x = 0; x < 4; ++x) kk[x] = k[j + std::min(x, keys - 1)];
      for (int x = 0; x < keys; ++x) pp[x] = pf[j + x];
      scores_tile<Rows>(q, D, kk, pp, keys, ld, s + j);
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
PORTA_VNNI void accumulate_tile(const int16_t* w, int64_t ldw, const float* scale, const char* const* v,
                                const char* const* pf, int64_t n_even, int64_t c0, int64_t D, float* acc) {
  const __m512i z = _mm512_setzero_si512();
  __m512i a00 = z, b00 = z, a01 = z, b01 = z, a10 = z, b10 = z, a11 = z, b11 = z;
  __m512i a20 = z, b20 = z, a21 = z, b21 = z, a30 = z, b30 = z, a31 = z, b31 = z;
  for (int64_t j = 0; j < n_even; j += 2) {
    if (pf[j] != nullptr) _mm_prefetch(pf[j] + c0, _MM_HINT_T1);
    if (pf[j + 1] != nullptr) _mm_prefetch(pf[j + 1] + c0, _MM_HINT_T1);
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
    a00 = _mm512_dpwssd_epi32(a00, va0, wr), b00 = _mm512_dpwssd_epi32(b00, vb0, wr);
    if constexpr (Cols > 1) a01 = _mm512_dpwssd_epi32(a01, va1, wr), b01 = _mm512_dpwssd_epi32(b01, vb1, wr);
    if constexpr (Rows > 1) {
      wr = pair(w + ldw + j);
      a10 = _mm512_dpwssd_epi32(a10, va0, wr), b10 = _mm512_dpwssd_epi32(b10, vb0, wr);
      if constexpr (Cols > 1)
        a11 = _mm512_dpwssd_epi32(a11, va1, wr), b11 = _mm512_dpwssd_epi32(b11, vb1, wr);
    }
    if constexpr (Rows > 2) {
      wr = pair(w + 2 * ldw + j);
      a20 = _mm512_dpwssd_epi32(a20, va0, wr), b20 = _mm512_dpwssd_epi32(b20, vb0, wr);
      if constexpr (Cols > 1)
        a21 = _mm512_dpwssd_epi32(a21, va1, wr), b21 = _mm512_dpwssd_epi32(b21, vb1, wr);
    }
    if constexpr (Rows > 3) {
      wr = pair(w + 3 * ldw + j);
      a30 = _mm512_dpwssd_epi32(a30, va0, wr), b30 = _mm512_dpwssd_epi32(b30, vb0, wr);
      if constexpr (Cols > 1)
        a31 = _mm512_dpwssd_epi32(a31, va1, wr), b31 = _mm512_dpwssd_epi32(b31, vb1, wr);
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

}  // namespace

bool gather_scales(const float* p, int64_t stride, int64_t n, float* out) {
  if (stride > std::numeric_limits<int32_t>::max() / 16 || stride < 0) {  // past 32-bit gather offsets
    bool finite = true;
    for (int64_t j = 0; j < n; ++j) {
      out[j] = p[j * stride];
      finite &= std::fabs(out[j]) <= std::numeric_limits<float>::max();
    }
    return finite;
  }
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(stride)));
  const __m512 big = _mm512_set1_ps(std::numeric_limits<float>::max());
  __mmask16 bad = 0;
  for (int64_t j = 0; j < n; j += 16, p += 16 * stride) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1u);
    const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, p, 4);
    _mm512_mask_storeu_ps(out + j, k, v);
    bad |= _mm512_mask_cmp_ps_mask(k, _mm512_abs_ps(v), big, _CMP_NLE_UQ);  // NaN or inf
  }
  return bad == 0;
}

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
  for (; r + 4 <= R; r += 4) scores_rows<4>(q16 + r * D, D, rows, pf, n, ld, s + r * ld);
  switch (R - r) {
    case 3: scores_rows<3>(q16 + r * D, D, rows, pf, n, ld, s + r * ld); break;
    case 2: scores_rows<2>(q16 + r * D, D, rows, pf, n, ld, s + r * ld); break;
    case 1: scores_rows<1>(q16 + r * D, D, rows, pf, n, ld, s + r * ld); break;
    default: break;
  }
  for (r = 0; r < R; ++r) {
    const __m512 qs = _mm512_set1_ps(qscale[r]);
    float* sr = s + r * ld;
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 k = n - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1u);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, sr + j), _mm512_maskz_loadu_ps(k, kscale + j));
      _mm512_mask_storeu_ps(sr + j, k, _mm512_mul_ps(v, qs));
    }
  }
}

PORTA_VNNI void accumulate_i8(const float* p, const float* vscale, int64_t R, int64_t ld, const KvRows* spans,
                              int nspans, int64_t vs, int64_t D, float* acc) {
  const char* rows[kMaxKeys + 1];
  const char* pf[kMaxKeys + 1];
  const int64_t n = flatten(spans, nspans, vs, rows, pf);
  if (n == 0) return;
  const int64_t n_even = (n + 1) / 2 * 2;
  if (n_even != n) rows[n] = rows[n - 1], pf[n] = nullptr;  // weight 0
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

}  // namespace porta::cpu::avx512
#endif
