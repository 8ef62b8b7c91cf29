// The decode block kernels for AVX2/FMA. K and V rows are read in their own dtype
// (f32, f16, bf16) and widened in registers, so decode streams them once with no
// scratch copy. Rows have a stride (elements) and unit element stride.
#if defined(PORTA_CPU_X86)
#include <cmath>
#include <cstdint>

#include "backends/cpu/simd_avx2.h"
#include "porta/dtype.h"

namespace porta::cpu::avx2 {
namespace {

using simd::hsum;

// Sums of four accumulators' lanes as one vector: {hsum(a0), hsum(a1), hsum(a2), hsum(a3)}.
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Register tile of Rows query rows x 4 keys: each K load feeds Rows FMAs and the 4 dot
// products of a row are reduced together (one hadd tree instead of four hsums).
template <typename L, int Rows>
void scores_4keys(const float* q, int64_t D, const char* k, int64_t kstride, int64_t n, float* s) {
  __m256 c[Rows][4];
  for (int i = 0; i < Rows; ++i)
    for (int x = 0; x < 4; ++x) c[i][x] = _mm256_setzero_ps();
  for (int64_t d = 0; d < D; d += 8) {
    const __m256 k0 = L::at(k, d), k1 = L::at(k + kstride, d), k2 = L::at(k + 2 * kstride, d),
                 k3 = L::at(k + 3 * kstride, d);
    for (int i = 0; i < Rows; ++i) {
      const __m256 qv = _mm256_loadu_ps(q + i * D + d);
      c[i][0] = _mm256_fmadd_ps(qv, k0, c[i][0]);
      c[i][1] = _mm256_fmadd_ps(qv, k1, c[i][1]);
      c[i][2] = _mm256_fmadd_ps(qv, k2, c[i][2]);
      c[i][3] = _mm256_fmadd_ps(qv, k3, c[i][3]);
    }
  }
  for (int i = 0; i < Rows; ++i) _mm_storeu_ps(s + i * n, hsum4(c[i][0], c[i][1], c[i][2], c[i][3]));
}

template <typename L>
void scores_t(const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t es, int64_t n,
              float* s) {
  const char* kb = static_cast<const char*>(k);
  const int64_t kstride = ks * es;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const char* kj = kb + j * kstride;
    int64_t r = 0;
    for (; r + 2 <= R; r += 2) scores_4keys<L, 2>(q + r * D, D, kj, kstride, n, s + r * n + j);
    if (r < R) scores_4keys<L, 1>(q + r * D, D, kj, kstride, n, s + r * n + j);
  }
  for (; j < n; ++j) {  // last keys of a block one at a time
    const char* kr = kb + j * kstride;
    for (int64_t r = 0; r < R; ++r) {
      __m256 a = _mm256_setzero_ps();
      for (int64_t d = 0; d < D; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + r * D + d), L::at(kr, d), a);
      s[r * n + j] = hsum(a);
    }
  }
}

// Register tile: Rows (<= 4) query rows x Cols (<= 2) * 8 columns of D: at most 8
// accumulators, so with the V loads and the broadcast it fits AVX2's 16 registers. Named
// accumulators rather than an array: GCC keeps an array tile in memory across the key loop.
template <typename L, int Rows, int Cols>
void accumulate_tile(const float* p, int64_t n, const char* v, int64_t vstride, int64_t D, float* acc) {
  static_assert(Rows >= 1 && Rows <= 4 && Cols >= 1 && Cols <= 2, "tile shape");
  const __m256 zero = _mm256_setzero_ps();
  auto ld = [&](int i, int x) { return i < Rows && x < Cols ? _mm256_loadu_ps(acc + i * D + 8 * x) : zero; };
  __m256 c00 = ld(0, 0), c01 = ld(0, 1), c10 = ld(1, 0), c11 = ld(1, 1), c20 = ld(2, 0), c21 = ld(2, 1),
         c30 = ld(3, 0), c31 = ld(3, 1);
  for (int64_t j = 0; j < n; ++j) {
    const char* vr = v + j * vstride;
    const __m256 v0 = L::at(vr, 0), v1 = Cols > 1 ? L::at(vr, 8) : zero;
    __m256 w = _mm256_broadcast_ss(p + j);
    c00 = _mm256_fmadd_ps(w, v0, c00);
    if (Cols > 1) c01 = _mm256_fmadd_ps(w, v1, c01);
    if (Rows > 1) {
      w = _mm256_broadcast_ss(p + n + j);
      c10 = _mm256_fmadd_ps(w, v0, c10);
      if (Cols > 1) c11 = _mm256_fmadd_ps(w, v1, c11);
    }
    if (Rows > 2) {
      w = _mm256_broadcast_ss(p + 2 * n + j);
      c20 = _mm256_fmadd_ps(w, v0, c20);
      if (Cols > 1) c21 = _mm256_fmadd_ps(w, v1, c21);
    }
    if (Rows > 3) {
      w = _mm256_broadcast_ss(p + 3 * n + j);
      c30 = _mm256_fmadd_ps(w, v0, c30);
      if (Cols > 1) c31 = _mm256_fmadd_ps(w, v1, c31);
    }
  }
  auto st = [&](int i, int x, __m256 c) {
    if (i < Rows && x < Cols) _mm256_storeu_ps(acc + i * D + 8 * x, c);
  };
  st(0, 0, c00), st(0, 1, c01), st(1, 0, c10), st(1, 1, c11);
  st(2, 0, c20), st(2, 1, c21), st(3, 0, c30), st(3, 1, c31);
}

template <typename L, int Rows>
void accumulate_rows(const float* p, int64_t n, const char* v, int64_t vstride, int64_t es, int64_t D,
                     float* acc) {
  int64_t d = 0;
  for (; d + 16 <= D; d += 16) accumulate_tile<L, Rows, 2>(p, n, v + d * es, vstride, D, acc + d);
  if (d < D) accumulate_tile<L, Rows, 1>(p, n, v + d * es, vstride, D, acc + d);  // D % 16 == 8
}

template <typename L>
void accumulate_t(const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t es, int64_t D,
                  float* acc) {
  const char* vb = static_cast<const char*>(v);
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) accumulate_rows<L, 4>(p + r * n, n, vb, vs * es, es, D, acc + r * D);
  if (r + 2 <= R) {
    accumulate_rows<L, 2>(p + r * n, n, vb, vs * es, es, D, acc + r * D);
    r += 2;
  }
  for (; r < R; ++r) accumulate_rows<L, 1>(p + r * n, n, vb, vs * es, es, D, acc + r * D);
}

}  // namespace

/// True when these kernels take rows of dtype t and head dim D.
bool supports(DType t, int64_t D) {
  return D % 8 == 0 && (t == DType::f32 || t == DType::f16 || t == DType::bf16);
}

void scores(DType t, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s) {
  const int64_t es = static_cast<int64_t>(dtype_size(t));
  switch (t) {
    case DType::f16: return scores_t<simd::LoadF16>(q, R, D, k, ks, es, n, s);
    case DType::bf16: return scores_t<simd::LoadBF16>(q, R, D, k, ks, es, n, s);
    default: return scores_t<simd::LoadF32>(q, R, D, k, ks, es, n, s);
  }
}

void accumulate(DType t, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                float* acc) {
  const int64_t es = static_cast<int64_t>(dtype_size(t));
  switch (t) {
    case DType::f16: return accumulate_t<simd::LoadF16>(p, R, n, v, vs, es, D, acc);
    case DType::bf16: return accumulate_t<simd::LoadBF16>(p, R, n, v, vs, es, D, acc);
    default: return accumulate_t<simd::LoadF32>(p, R, n, v, vs, es, D, acc);
  }
}

}  // namespace porta::cpu::avx2
#endif
