// The decode block kernels for AVX-512 (same contract as attention_blocks_avx2.cpp).
// Decode is short of memory bandwidth only once its math is cheap: at a GQA group of 4
// it does 2 FMAs per byte of f16 K/V, so 16-wide registers and a 4-row score tile (each
// K load feeds four query rows) are what let it keep up with the memory stream.
#if defined(PORTA_CPU_X86)
// GCC 12's avx512fintrin.h (cvtph, extract) trips its own uninitialised-value warnings
// (GCC PR 105593, fixed in GCC 13); they are about the header's undefined-upper-lanes idiom.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "backends/cpu/paged_kernels.h"
#include "backends/cpu/simd_avx512.h"
#include "porta/dtype.h"

namespace porta::cpu::avx512 {
namespace {

// How far ahead the kernels prefetch K and V rows: about 4 KiB of rows. Two cores cannot
// hide DRAM latency by out-of-order execution alone, and the hardware streamer restarts at
// every 4 KiB page; prefetches spread through the math (a K row per score tile, a V slice
// per accumulated key) keep requests in flight without stalling issue the way a burst of
// a whole block's prefetches does. Measured on one Zen core, f16 D=128 streaming from DRAM:
// 60 ns per key without, 29 ns with (1 KiB ahead: 57 ns, 2-8 KiB: 29-30 ns). PREFETCHT1, not
// T0: on Zen 4 the T0 requests held L1 miss buffers the demand loads needed (B=16 KV=4096,
// one core: dense 49 -> 32 ns, paged 62 -> 32 ns per token and kv head).
constexpr int64_t kPrefetchBytes = 4096;

inline int64_t prefetch_rows(int64_t row_bytes) { return std::max<int64_t>(1, kPrefetchBytes / row_bytes); }

inline void prefetch_lines(const char* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T1);
}

struct LoadF32 {
  static constexpr int64_t kSize = 4;
  static __m512 at(const char* p, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i);
  }
};
struct LoadF16 {
  static constexpr int64_t kSize = 2;
  static __m512 at(const char* p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
  }
};
struct LoadBF16 {
  static constexpr int64_t kSize = 2;
  static __m512 at(const char* p, int64_t i) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i))), 16));
  }
};

// int8 KV-cache codes (the caller applies the per-row scales).
struct LoadI8 {
  static constexpr int64_t kSize = 1;
  static __m512 at(const char* p, int64_t i) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))));
  }
};
// fp8 e4m3fn codes as value * 2^-8: the code's exponent and mantissa bits shifted into an f16
// (exponent bias 15 instead of 7; subnormals line up too), so one cvtph widens them; the
// caller folds 256 into its scales. Sign-extending the byte puts the sign in bits 8-15, so a
// shift by 7 leaves it in bit 15 and only bit 14 (the code's sign again) is cleared. The NaN
// code (magnitude 0x7f) becomes an f16 NaN.
struct LoadFP8 {
  static constexpr int64_t kSize = 1;
  static __m512 at(const char* p, int64_t i) {
    const __m256i t =
        _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))), 7);
    const __m256i h = _mm256_and_si256(t, _mm256_set1_epi16(static_cast<int16_t>(0xBFFF)));
    const __mmask16 nan =
        _mm256_cmpeq_epi16_mask(_mm256_and_si256(t, _mm256_set1_epi16(0x3FFF)), _mm256_set1_epi16(0x3F80));
    return _mm512_cvtph_ps(_mm256_mask_mov_epi16(h, nan, _mm256_set1_epi16(0x7e00)));
  }
};

// The prefetch offset along a contiguous K/V: about kPrefetchBytes of rows ahead.
template <typename L>
int64_t ahead_bytes(int64_t D, int64_t stride) {
  return prefetch_rows(D * L::kSize) * stride;
}

inline __m256 fold(__m512 a) {
  return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
}

inline float hsum(__m512 a) {
  const __m256 h = fold(a);
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

// {sum(a0), sum(a1), sum(a2), sum(a3)}: halves added down to 256 bits, then one hadd tree.
inline __m128 hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(fold(a0), fold(a1)), _mm256_hadd_ps(fold(a2), fold(a3)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Sixteen horizontal sums in one vector: a transposing add tree (45 shuffles and adds,
// where sixteen separate reductions take about 80 and serialise on the shuffle port).
// Quarter q of the result holds sums of v[4*rho(q) + sigma(t)] in lane t, rho = sigma =
// {0, 2, 1, 3}; callers pass their inputs in that order.
inline __m512 hsum16(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5, __m512 v6, __m512 v7,
                     __m512 v8, __m512 v9, __m512 v10, __m512 v11, __m512 v12, __m512 v13, __m512 v14,
                     __m512 v15) {
  // 256-bit halves: c_i holds v_i's half-sum in lanes 0-7, v_{i+8}'s in 8-15.
  auto l1 = [](__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  };
  // 128-bit quarters: quarter q of d_i holds source i + {0, 8, 4, 12}[q].
  auto l2 = [](__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
  };
  // Lane pairs, then single lanes, inside each quarter.
  auto l3 = [](__m512 a, __m512 b) {
    const __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  };
  auto l4 = [](__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
  };
  const __m512 c0 = l1(v0, v8), c1 = l1(v1, v9), c2 = l1(v2, v10), c3 = l1(v3, v11), c4 = l1(v4, v12),
               c5 = l1(v5, v13), c6 = l1(v6, v14), c7 = l1(v7, v15);
  const __m512 d0 = l2(c0, c4), d1 = l2(c1, c5), d2 = l2(c2, c6), d3 = l2(c3, c7);
  return l4(l3(d0, d2), l3(d1, d3));
}

// Rows (<= 4) query rows x 4 keys; D a multiple of 16. Named accumulators, not an
// array: GCC keeps an array tile on the stack around the loop (zeroed, stored, reloaded).
template <typename L, int Rows, bool PF>
void scores_4keys(const float* q, int64_t D, const char* k, int64_t kstride, int64_t pf, int64_t n,
                  float* s) {
  const __m512 z = _mm512_setzero_ps();
  __m512 c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512 c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  if constexpr (PF) {
    const char* ahead = k + pf;
    for (int x = 0; x < 4; ++x) prefetch_lines(ahead + x * kstride, D * L::kSize);
  }
  for (int64_t d = 0; d < D; d += 16) {
    const __m512 k0 = L::at(k, d), k1 = L::at(k + kstride, d), k2 = L::at(k + 2 * kstride, d),
                 k3 = L::at(k + 3 * kstride, d);
    __m512 qv = _mm512_loadu_ps(q + d);
    c00 = _mm512_fmadd_ps(qv, k0, c00), c01 = _mm512_fmadd_ps(qv, k1, c01);
    c02 = _mm512_fmadd_ps(qv, k2, c02), c03 = _mm512_fmadd_ps(qv, k3, c03);
    if constexpr (Rows > 1) {
      qv = _mm512_loadu_ps(q + D + d);
      c10 = _mm512_fmadd_ps(qv, k0, c10), c11 = _mm512_fmadd_ps(qv, k1, c11);
      c12 = _mm512_fmadd_ps(qv, k2, c12), c13 = _mm512_fmadd_ps(qv, k3, c13);
    }
    if constexpr (Rows > 2) {
      qv = _mm512_loadu_ps(q + 2 * D + d);
      c20 = _mm512_fmadd_ps(qv, k0, c20), c21 = _mm512_fmadd_ps(qv, k1, c21);
      c22 = _mm512_fmadd_ps(qv, k2, c22), c23 = _mm512_fmadd_ps(qv, k3, c23);
    }
    if constexpr (Rows > 3) {
      qv = _mm512_loadu_ps(q + 3 * D + d);
      c30 = _mm512_fmadd_ps(qv, k0, c30), c31 = _mm512_fmadd_ps(qv, k1, c31);
      c32 = _mm512_fmadd_ps(qv, k2, c32), c33 = _mm512_fmadd_ps(qv, k3, c33);
    }
  }
  if constexpr (Rows == 1) {
    _mm_storeu_ps(s, hsum4(c00, c01, c02, c03));
  } else {
    // Keys in hsum16's sigma order; quarter q of the sums is row rho(q).
    const __m512 t = hsum16(c00, c02, c01, c03, c10, c12, c11, c13, c20, c22, c21, c23, c30, c32, c31, c33);
    _mm_storeu_ps(s, _mm512_extractf32x4_ps(t, 0));
    _mm_storeu_ps(s + n, _mm512_extractf32x4_ps(t, 2));
    if constexpr (Rows > 2) _mm_storeu_ps(s + 2 * n, _mm512_extractf32x4_ps(t, 1));
    if constexpr (Rows > 3) _mm_storeu_ps(s + 3 * n, _mm512_extractf32x4_ps(t, 3));
  }
}

template <typename L, int Rows>
void scores_1key(const float* q, int64_t D, const char* k, int64_t n, float* s) {
  __m512 c[Rows];
  for (int i = 0; i < Rows; ++i) c[i] = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    const __m512 kv = L::at(k, d);
    for (int i = 0; i < Rows; ++i) c[i] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i * D + d), kv, c[i]);
  }
  for (int i = 0; i < Rows; ++i) s[i * n] = hsum(c[i]);
}

template <typename L, int Rows, bool PF>
void scores_rows(const float* q, int64_t D, const char* k, int64_t kstride, int64_t pf, int64_t n, int64_t ld,
                 float* s) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) scores_4keys<L, Rows, PF>(q, D, k + j * kstride, kstride, pf, ld, s + j);
  for (; j < n; ++j) scores_1key<L, Rows>(q, D, k + j * kstride, ld, s + j);
}

// Scores of R query rows against the keys of each span in turn (s rows of ld floats, the
// spans' keys side by side). PF: each row's bytes at row + span.pf are prefetched while the
// row is read (a few KiB further along a contiguous cache, or rows of a paged cache that the
// caller reads a little later).
template <typename L, bool PF>
void scores_t(const float* q, int64_t R, int64_t D, const KvRows* spans, int nspans, int64_t kstride,
              int64_t ld, float* s) {
  for (int sp = 0; sp < nspans; ++sp, s += spans[sp - 1].n) {
    const char* kb = static_cast<const char*>(spans[sp].p);
    const int64_t n = spans[sp].n, pf = spans[sp].pf;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) scores_rows<L, 4, PF>(q + r * D, D, kb, kstride, pf, n, ld, s + r * ld);
    switch (R - r) {
      case 3: scores_rows<L, 3, PF>(q + r * D, D, kb, kstride, pf, n, ld, s + r * ld); break;
      case 2: scores_rows<L, 2, PF>(q + r * D, D, kb, kstride, pf, n, ld, s + r * ld); break;
      case 1: scores_rows<L, 1, PF>(q + r * D, D, kb, kstride, pf, n, ld, s + r * ld); break;
      default: break;
    }
  }
}

// Rows (<= 4) query rows x Cols (<= 4) * 16 columns of D: at most 16 accumulators, four V
// registers and the broadcast weight, inside AVX-512's 32 registers. Named accumulators
// (see scores_4keys).
template <typename L, int Rows, int Cols, bool PF>
void accumulate_tile(const float* p, int64_t ld, const KvRows* spans, int nspans, int64_t col,
                     int64_t vstride, int64_t D, float* acc) {
  const __m512 z = _mm512_setzero_ps();
  auto ld_acc = [&](int i, int x) {
    return i < Rows && x < Cols ? _mm512_loadu_ps(acc + i * D + 16 * x) : z;
  };
  __m512 c00 = ld_acc(0, 0), c01 = ld_acc(0, 1), c02 = ld_acc(0, 2), c03 = ld_acc(0, 3);
  __m512 c10 = ld_acc(1, 0), c11 = ld_acc(1, 1), c12 = ld_acc(1, 2), c13 = ld_acc(1, 3);
  __m512 c20 = ld_acc(2, 0), c21 = ld_acc(2, 1), c22 = ld_acc(2, 2), c23 = ld_acc(2, 3);
  __m512 c30 = ld_acc(3, 0), c31 = ld_acc(3, 1), c32 = ld_acc(3, 2), c33 = ld_acc(3, 3);
  for (int sp = 0; sp < nspans; ++sp, p += spans[sp - 1].n) {
    const char* v = static_cast<const char*>(spans[sp].p) + col;
    const int64_t n = spans[sp].n, ahead = spans[sp].pf;
    for (int64_t j = 0; j < n; ++j) {
      const char* vr = v + j * vstride;
      if constexpr (PF) prefetch_lines(vr + ahead, Cols * 16 * L::kSize);
      const __m512 v0 = L::at(vr, 0);
      const __m512 v1 = Cols > 1 ? L::at(vr, 16) : z;
      const __m512 v2 = Cols > 2 ? L::at(vr, 32) : z;
      const __m512 v3 = Cols > 3 ? L::at(vr, 48) : z;
      auto row = [&](int i, __m512& a0, __m512& a1, __m512& a2, __m512& a3) {
        const __m512 w = _mm512_set1_ps(p[i * ld + j]);
        a0 = _mm512_fmadd_ps(w, v0, a0);
        if constexpr (Cols > 1) a1 = _mm512_fmadd_ps(w, v1, a1);
        if constexpr (Cols > 2) a2 = _mm512_fmadd_ps(w, v2, a2);
        if constexpr (Cols > 3) a3 = _mm512_fmadd_ps(w, v3, a3);
      };
      row(0, c00, c01, c02, c03);
      if constexpr (Rows > 1) row(1, c10, c11, c12, c13);
      if constexpr (Rows > 2) row(2, c20, c21, c22, c23);
      if constexpr (Rows > 3) row(3, c30, c31, c32, c33);
    }
  }
  auto st = [&](int i, int x, __m512 c) {
    if (i < Rows && x < Cols) _mm512_storeu_ps(acc + i * D + 16 * x, c);
  };
  st(0, 0, c00), st(0, 1, c01), st(0, 2, c02), st(0, 3, c03);
  st(1, 0, c10), st(1, 1, c11), st(1, 2, c12), st(1, 3, c13);
  st(2, 0, c20), st(2, 1, c21), st(2, 2, c22), st(2, 3, c23);
  st(3, 0, c30), st(3, 1, c31), st(3, 2, c32), st(3, 3, c33);
}

template <typename L, int Rows, bool PF>
void accumulate_rows(const float* p, int64_t ld, const KvRows* spans, int nspans, int64_t vstride, int64_t D,
                     float* acc) {
  constexpr int64_t es = L::kSize;
  int64_t d = 0;
  for (; d + 64 <= D; d += 64)
    accumulate_tile<L, Rows, 4, PF>(p, ld, spans, nspans, d * es, vstride, D, acc + d);
  if (d + 32 <= D) {
    accumulate_tile<L, Rows, 2, PF>(p, ld, spans, nspans, d * es, vstride, D, acc + d);
    d += 32;
  }
  if (d < D)
    accumulate_tile<L, Rows, 1, PF>(p, ld, spans, nspans, d * es, vstride, D, acc + d);  // D % 32 == 16
}

// acc_r += sum over the spans' keys j of p[r*ld + j] v_j (the spans' keys side by side in p).
template <typename L, bool PF>
void accumulate_t(const float* p, int64_t R, int64_t ld, const KvRows* spans, int nspans, int64_t vstride,
                  int64_t D, float* acc) {
  int64_t r = 0;
  for (; r + 4 <= R; r += 4)
    accumulate_rows<L, 4, PF>(p + r * ld, ld, spans, nspans, vstride, D, acc + r * D);
  switch (R - r) {
    case 3: return accumulate_rows<L, 3, PF>(p + r * ld, ld, spans, nspans, vstride, D, acc + r * D);
    case 2: return accumulate_rows<L, 2, PF>(p + r * ld, ld, spans, nspans, vstride, D, acc + r * D);
    case 1: return accumulate_rows<L, 1, PF>(p + r * ld, ld, spans, nspans, vstride, D, acc + r * D);
    default: return;
  }
}

inline __mmask16 lanes(int64_t count) {
  if (count <= 0) return 0;
  return count >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// {max(a0), max(a1), max(a2), max(a3)}: halves folded to 256 bits, then one transposing
// max tree (four rows cost about what one reduce_max chain does).
inline __m128 hmax4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  auto half = [](__m512 a) { return _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1)); };
  const __m256 h0 = half(a0), h1 = half(a1), h2 = half(a2), h3 = half(a3);
  const __m256 u01 = _mm256_max_ps(_mm256_unpacklo_ps(h0, h1), _mm256_unpackhi_ps(h0, h1));
  const __m256 u23 = _mm256_max_ps(_mm256_unpacklo_ps(h2, h3), _mm256_unpackhi_ps(h2, h3));
  const __m256 w = _mm256_max_ps(_mm256_shuffle_ps(u01, u23, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm256_shuffle_ps(u01, u23, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm_max_ps(_mm256_castps256_ps128(w), _mm256_extractf128_ps(w, 1));
}

// One online-softmax step for four rows at once over n <= 16 * V scores each: the per-row
// reductions and the rescale factors run as 4-lane vectors instead of four serial
// reduce/exp chains (which made the softmax cost half of the score FMAs).
template <int V>
void softmax_4rows(float* s, int64_t n, const int64_t* visible, float* m, float* l, float* acc, int64_t D) {
  static_assert(V == 1 || V == 2, "one or two vectors per row");
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  // Keys past `visible` load as -inf and get weight exactly 0.
  auto load = [&](int r, int h) {
    return _mm512_mask_loadu_ps(ninf, lanes(visible[r] - 16 * h), s + r * n + 16 * h);
  };
  const __m512 x0 = load(0, 0), x1 = load(1, 0), x2 = load(2, 0), x3 = load(3, 0);
  const __m512 y0 = V > 1 ? load(0, 1) : ninf, y1 = V > 1 ? load(1, 1) : ninf;
  const __m512 y2 = V > 1 ? load(2, 1) : ninf, y3 = V > 1 ? load(3, 1) : ninf;
  const __m128 m_old = _mm_loadu_ps(m);
  const __m128 m_new = _mm_max_ps(m_old, hmax4(_mm512_max_ps(y0, x0), _mm512_max_ps(y1, x1),
                                               _mm512_max_ps(y2, x2), _mm512_max_ps(y3, x3)));
  _mm_storeu_ps(m, m_new);
  // A row that has seen no key subtracts 0, not -inf: its weights and factor become 0, not NaN.
  const __mmask8 none = _mm_cmp_ps_mask(m_new, _mm512_castps512_ps128(ninf), _CMP_EQ_OQ);
  alignas(16) float sub[4];
  _mm_store_ps(sub, _mm_mask_mov_ps(m_new, none, _mm_setzero_ps()));
  const __m128 corr =
      _mm512_castps512_ps128(simd512::exp_ps(_mm512_zextps128_ps512(_mm_sub_ps(m_old, _mm_load_ps(sub)))));
  auto weights = [&](int r, __m512 x, __m512 y, __m512* sum) {
    const __m512 mr = _mm512_set1_ps(sub[r]);
    const __m512 p = simd512::exp_ps(_mm512_sub_ps(x, mr));
    _mm512_mask_storeu_ps(s + r * n, lanes(n), p);
    *sum = p;
    if constexpr (V > 1) {
      const __m512 p2 = simd512::exp_ps(_mm512_sub_ps(y, mr));
      _mm512_mask_storeu_ps(s + r * n + 16, lanes(n - 16), p2);
      *sum = _mm512_add_ps(p, p2);
    }
  };
  __m512 s0, s1, s2, s3;
  weights(0, x0, y0, &s0), weights(1, x1, y1, &s1), weights(2, x2, y2, &s2), weights(3, x3, y3, &s3);
  _mm_storeu_ps(l, _mm_fmadd_ps(_mm_loadu_ps(l), corr, hsum4(s0, s1, s2, s3)));
  const __mmask8 rescale = _mm_cmp_ps_mask(corr, _mm_set1_ps(1.0f), _CMP_NEQ_UQ);
  if (rescale == 0) return;
  alignas(16) float c[4];
  _mm_store_ps(c, corr);
  for (int r = 0; r < 4; ++r) {
    if (!(rescale >> r & 1)) continue;
    const __m512 vc = _mm512_set1_ps(c[r]);
    float* ar = acc + r * D;
    for (int64_t d = 0; d < D; d += 16) _mm512_storeu_ps(ar + d, _mm512_mul_ps(vc, _mm512_loadu_ps(ar + d)));
  }
}

}  // namespace

void online_softmax(float* s, int64_t R, int64_t n, const int64_t* visible, float* m, float* l, float* acc,
                    int64_t D) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  int64_t r = 0;
  if (n <= 32)
    for (; r + 4 <= R; r += 4)
      (n <= 16 ? softmax_4rows<1> : softmax_4rows<2>)(s + r * n, n, visible + r, m + r, l + r, acc + r * D,
                                                      D);
  for (; r < R; ++r) {
    float* sr = s + r * n;
    const int64_t vis = visible[r];
    __m512 vmax = _mm512_set1_ps(neg_inf);
    for (int64_t i = 0; i < vis; i += 16) {
      const __mmask16 k = lanes(vis - i);
      vmax = _mm512_mask_max_ps(vmax, k, vmax, _mm512_maskz_loadu_ps(k, sr + i));
    }
    const float mx = std::max(m[r], _mm512_reduce_max_ps(vmax));
    if (vis == 0 || mx == neg_inf) {  // no key seen yet: nothing to add
      for (int64_t i = 0; i < n; i += 16) _mm512_mask_storeu_ps(sr + i, lanes(n - i), _mm512_setzero_ps());
      continue;
    }
    const __m512 vm = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 k = lanes(vis - i);  // keys past `visible` get weight 0
      const __m512 p =
          _mm512_maskz_mov_ps(k, simd512::exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, sr + i), vm)));
      sum = _mm512_add_ps(sum, p);
      _mm512_mask_storeu_ps(sr + i, lanes(n - i), p);
    }
    const float corr = std::exp(m[r] - mx);
    l[r] = l[r] * corr + hsum(sum);
    m[r] = mx;
    if (corr != 1.0f) {
      const __m512 vc = _mm512_set1_ps(corr);
      float* ar = acc + r * D;
      for (int64_t d = 0; d < D; d += 16)
        _mm512_storeu_ps(ar + d, _mm512_mul_ps(vc, _mm512_loadu_ps(ar + d)));
    }
  }
}

bool supports(DType t, int64_t D) {
  return D % 16 == 0 && (t == DType::f32 || t == DType::f16 || t == DType::bf16);
}

void scores(DType t, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s) {
  const int64_t kstride = ks * static_cast<int64_t>(dtype_size(t));
  switch (t) {
    case DType::f16: {
      const KvRows one{k, n, ahead_bytes<LoadF16>(D, kstride)};
      return scores_t<LoadF16, true>(q, R, D, &one, 1, kstride, n, s);
    }
    case DType::bf16: {
      const KvRows one{k, n, ahead_bytes<LoadBF16>(D, kstride)};
      return scores_t<LoadBF16, true>(q, R, D, &one, 1, kstride, n, s);
    }
    default: {
      const KvRows one{k, n, ahead_bytes<LoadF32>(D, kstride)};
      return scores_t<LoadF32, true>(q, R, D, &one, 1, kstride, n, s);
    }
  }
}

void accumulate(DType t, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                float* acc) {
  const int64_t vstride = vs * static_cast<int64_t>(dtype_size(t));
  switch (t) {
    case DType::f16: {
      const KvRows one{v, n, ahead_bytes<LoadF16>(D, vstride)};
      return accumulate_t<LoadF16, true>(p, R, n, &one, 1, vstride, D, acc);
    }
    case DType::bf16: {
      const KvRows one{v, n, ahead_bytes<LoadBF16>(D, vstride)};
      return accumulate_t<LoadBF16, true>(p, R, n, &one, 1, vstride, D, acc);
    }
    default: {
      const KvRows one{v, n, ahead_bytes<LoadF32>(D, vstride)};
      return accumulate_t<LoadF32, true>(p, R, n, &one, 1, vstride, D, acc);
    }
  }
}

namespace {
// The paged kernels prefetch only when the caller names rows to prefetch (some span's pf != 0).
bool any_prefetch(const KvRows* spans, int nspans) {
  for (int i = 0; i < nspans; ++i)
    if (spans[i].pf != 0) return true;
  return false;
}
template <typename L>
void scores_pf(const float* q, int64_t R, int64_t D, const KvRows* spans, int nspans, int64_t kstride,
               int64_t ld, float* s) {
  if (any_prefetch(spans, nspans)) return scores_t<L, true>(q, R, D, spans, nspans, kstride, ld, s);
  scores_t<L, false>(q, R, D, spans, nspans, kstride, ld, s);
}
template <typename L>
void accumulate_pf(const float* p, int64_t R, int64_t ld, const KvRows* spans, int nspans, int64_t vstride,
                   int64_t D, float* acc) {
  if (any_prefetch(spans, nspans)) return accumulate_t<L, true>(p, R, ld, spans, nspans, vstride, D, acc);
  accumulate_t<L, false>(p, R, ld, spans, nspans, vstride, D, acc);
}
}  // namespace

void scores_paged(KvElem e, const float* q, int64_t R, int64_t D, const KvRows* spans, int nspans, int64_t ks,
                  int64_t ld, float* s) {
  switch (e) {
    case KvElem::f16: return scores_pf<LoadF16>(q, R, D, spans, nspans, ks * 2, ld, s);
    case KvElem::bf16: return scores_pf<LoadBF16>(q, R, D, spans, nspans, ks * 2, ld, s);
    case KvElem::f32: return scores_pf<LoadF32>(q, R, D, spans, nspans, ks * 4, ld, s);
    case KvElem::i8: return scores_pf<LoadI8>(q, R, D, spans, nspans, ks, ld, s);
    case KvElem::fp8: return scores_pf<LoadFP8>(q, R, D, spans, nspans, ks, ld, s);
  }
}

void accumulate_paged(KvElem e, const float* p, int64_t R, int64_t ld, const KvRows* spans, int nspans,
                      int64_t vs, int64_t D, float* acc) {
  switch (e) {
    case KvElem::f16: return accumulate_pf<LoadF16>(p, R, ld, spans, nspans, vs * 2, D, acc);
    case KvElem::bf16: return accumulate_pf<LoadBF16>(p, R, ld, spans, nspans, vs * 2, D, acc);
    case KvElem::f32: return accumulate_pf<LoadF32>(p, R, ld, spans, nspans, vs * 4, D, acc);
    case KvElem::i8: return accumulate_pf<LoadI8>(p, R, ld, spans, nspans, vs, D, acc);
    case KvElem::fp8: return accumulate_pf<LoadFP8>(p, R, ld, spans, nspans, vs, D, acc);
  }
}

}  // namespace porta::cpu::avx512
#endif
