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

#include <cmath>
#include <cstdint>
#include <limits>

#include "backends/cpu/simd_avx512.h"
#include "porta/dtype.h"

namespace porta::cpu::avx512 {
namespace {

struct LoadF32 {
  static __m512 at(const char* p, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i);
  }
};
struct LoadF16 {
  static __m512 at(const char* p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
  }
};
struct LoadBF16 {
  static __m512 at(const char* p, int64_t i) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i))), 16));
  }
};

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

// Rows (<= 4) query rows x 4 keys; D a multiple of 16. Named accumulators, not an
// array: GCC keeps an array tile on the stack around the loop (zeroed, stored, reloaded).
template <typename L, int Rows>
void scores_4keys(const float* q, int64_t D, const char* k, int64_t kstride, int64_t n, float* s) {
  const __m512 z = _mm512_setzero_ps();
  __m512 c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512 c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
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
  _mm_storeu_ps(s, hsum4(c00, c01, c02, c03));
  if constexpr (Rows > 1) _mm_storeu_ps(s + n, hsum4(c10, c11, c12, c13));
  if constexpr (Rows > 2) _mm_storeu_ps(s + 2 * n, hsum4(c20, c21, c22, c23));
  if constexpr (Rows > 3) _mm_storeu_ps(s + 3 * n, hsum4(c30, c31, c32, c33));
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

template <typename L, int Rows>
void scores_rows(const float* q, int64_t D, const char* k, int64_t kstride, int64_t n, float* s) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) scores_4keys<L, Rows>(q, D, k + j * kstride, kstride, n, s + j);
  for (; j < n; ++j) scores_1key<L, Rows>(q, D, k + j * kstride, n, s + j);
}

template <typename L>
void scores_t(const float* q, int64_t R, int64_t D, const void* k, int64_t kstride, int64_t n, float* s) {
  const char* kb = static_cast<const char*>(k);
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) scores_rows<L, 4>(q + r * D, D, kb, kstride, n, s + r * n);
  switch (R - r) {
    case 3: return scores_rows<L, 3>(q + r * D, D, kb, kstride, n, s + r * n);
    case 2: return scores_rows<L, 2>(q + r * D, D, kb, kstride, n, s + r * n);
    case 1: return scores_rows<L, 1>(q + r * D, D, kb, kstride, n, s + r * n);
    default: return;
  }
}

// Rows (<= 4) query rows x Cols (<= 4) * 16 columns of D: at most 16 accumulators, four V
// registers and the broadcast weight, inside AVX-512's 32 registers. Named accumulators
// (see scores_4keys).
template <typename L, int Rows, int Cols>
void accumulate_tile(const float* p, int64_t n, const char* v, int64_t vstride, int64_t D, float* acc) {
  const __m512 z = _mm512_setzero_ps();
  auto ld = [&](int i, int x) { return i < Rows && x < Cols ? _mm512_loadu_ps(acc + i * D + 16 * x) : z; };
  __m512 c00 = ld(0, 0), c01 = ld(0, 1), c02 = ld(0, 2), c03 = ld(0, 3);
  __m512 c10 = ld(1, 0), c11 = ld(1, 1), c12 = ld(1, 2), c13 = ld(1, 3);
  __m512 c20 = ld(2, 0), c21 = ld(2, 1), c22 = ld(2, 2), c23 = ld(2, 3);
  __m512 c30 = ld(3, 0), c31 = ld(3, 1), c32 = ld(3, 2), c33 = ld(3, 3);
  for (int64_t j = 0; j < n; ++j) {
    const char* vr = v + j * vstride;
    const __m512 v0 = L::at(vr, 0);
    const __m512 v1 = Cols > 1 ? L::at(vr, 16) : z;
    const __m512 v2 = Cols > 2 ? L::at(vr, 32) : z;
    const __m512 v3 = Cols > 3 ? L::at(vr, 48) : z;
    auto row = [&](int i, __m512& a0, __m512& a1, __m512& a2, __m512& a3) {
      const __m512 w = _mm512_set1_ps(p[i * n + j]);
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
  auto st = [&](int i, int x, __m512 c) {
    if (i < Rows && x < Cols) _mm512_storeu_ps(acc + i * D + 16 * x, c);
  };
  st(0, 0, c00), st(0, 1, c01), st(0, 2, c02), st(0, 3, c03);
  st(1, 0, c10), st(1, 1, c11), st(1, 2, c12), st(1, 3, c13);
  st(2, 0, c20), st(2, 1, c21), st(2, 2, c22), st(2, 3, c23);
  st(3, 0, c30), st(3, 1, c31), st(3, 2, c32), st(3, 3, c33);
}

template <typename L, int Rows>
void accumulate_rows(const float* p, int64_t n, const char* v, int64_t vstride, int64_t es, int64_t D,
                     float* acc) {
  int64_t d = 0;
  for (; d + 64 <= D; d += 64) accumulate_tile<L, Rows, 4>(p, n, v + d * es, vstride, D, acc + d);
  if (d + 32 <= D) {
    accumulate_tile<L, Rows, 2>(p, n, v + d * es, vstride, D, acc + d);
    d += 32;
  }
  if (d < D) accumulate_tile<L, Rows, 1>(p, n, v + d * es, vstride, D, acc + d);  // D % 32 == 16
}

template <typename L>
void accumulate_t(const float* p, int64_t R, int64_t n, const void* v, int64_t vstride, int64_t es, int64_t D,
                  float* acc) {
  const char* vb = static_cast<const char*>(v);
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) accumulate_rows<L, 4>(p + r * n, n, vb, vstride, es, D, acc + r * D);
  switch (R - r) {
    case 3: return accumulate_rows<L, 3>(p + r * n, n, vb, vstride, es, D, acc + r * D);
    case 2: return accumulate_rows<L, 2>(p + r * n, n, vb, vstride, es, D, acc + r * D);
    case 1: return accumulate_rows<L, 1>(p + r * n, n, vb, vstride, es, D, acc + r * D);
    default: return;
  }
}

inline __mmask16 lanes(int64_t count) {
  if (count <= 0) return 0;
  return count >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

}  // namespace

void online_softmax(float* s, int64_t R, int64_t n, const int64_t* visible, float* m, float* l, float* acc,
                    int64_t D) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < R; ++r) {
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
    case DType::f16: return scores_t<LoadF16>(q, R, D, k, kstride, n, s);
    case DType::bf16: return scores_t<LoadBF16>(q, R, D, k, kstride, n, s);
    default: return scores_t<LoadF32>(q, R, D, k, kstride, n, s);
  }
}

void accumulate(DType t, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                float* acc) {
  const int64_t es = static_cast<int64_t>(dtype_size(t));
  switch (t) {
    case DType::f16: return accumulate_t<LoadF16>(p, R, n, v, vs * es, es, D, acc);
    case DType::bf16: return accumulate_t<LoadBF16>(p, R, n, v, vs * es, es, D, acc);
    default: return accumulate_t<LoadF32>(p, R, n, v, vs * es, es, D, acc);
  }
}

}  // namespace porta::cpu::avx512
#endif
