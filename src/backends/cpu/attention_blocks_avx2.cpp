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

template <typename L>
void scores_t(const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t es, int64_t n,
              float* s) {
  for (int64_t j = 0; j < n; ++j) {
    const void* kr = static_cast<const char*>(k) + j * ks * es;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {  // four query rows share each K load
      const float* q0 = q + r * D;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
             a3 = _mm256_setzero_ps();
      for (int64_t d = 0; d < D; d += 8) {
        const __m256 kv = L::at(kr, d);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + d), kv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + D + d), kv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + 2 * D + d), kv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + 3 * D + d), kv, a3);
      }
      s[r * n + j] = hsum(a0);
      s[(r + 1) * n + j] = hsum(a1);
      s[(r + 2) * n + j] = hsum(a2);
      s[(r + 3) * n + j] = hsum(a3);
    }
    for (; r < R; ++r) {
      __m256 a = _mm256_setzero_ps();
      for (int64_t d = 0; d < D; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + r * D + d), L::at(kr, d), a);
      s[r * n + j] = hsum(a);
    }
  }
}

// Register tile: up to 4 query rows x 32 columns of D; each V load feeds one FMA per row.
template <typename L, int Rows>
void accumulate_rows(const float* p, int64_t n, const void* v, int64_t vs, int64_t es, int64_t D,
                     float* acc) {
  for (int64_t d = 0; d < D; d += 32) {
    __m256 c[Rows][4];
    for (int i = 0; i < Rows; ++i)
      for (int x = 0; x < 4; ++x) c[i][x] = _mm256_loadu_ps(acc + i * D + d + 8 * x);
    for (int64_t j = 0; j < n; ++j) {
      const void* vr = static_cast<const char*>(v) + j * vs * es;
      const __m256 v0 = L::at(vr, d), v1 = L::at(vr, d + 8), v2 = L::at(vr, d + 16), v3 = L::at(vr, d + 24);
      for (int i = 0; i < Rows; ++i) {
        const __m256 w = _mm256_broadcast_ss(p + i * n + j);
        c[i][0] = _mm256_fmadd_ps(w, v0, c[i][0]);
        c[i][1] = _mm256_fmadd_ps(w, v1, c[i][1]);
        c[i][2] = _mm256_fmadd_ps(w, v2, c[i][2]);
        c[i][3] = _mm256_fmadd_ps(w, v3, c[i][3]);
      }
    }
    for (int i = 0; i < Rows; ++i)
      for (int x = 0; x < 4; ++x) _mm256_storeu_ps(acc + i * D + d + 8 * x, c[i][x]);
  }
}

template <typename L>
void accumulate_t(const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t es, int64_t D,
                  float* acc) {
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) accumulate_rows<L, 4>(p + r * n, n, v, vs, es, D, acc + r * D);
  for (; r < R; ++r) accumulate_rows<L, 1>(p + r * n, n, v, vs, es, D, acc + r * D);
}

}  // namespace

float exp_shifted(const float* s, int64_t n, float mx, float* out) {
  const __m256 m = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = simd::exp_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m));
    _mm256_storeu_ps(out + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum(acc);
  for (; j < n; ++j) sum += (out[j] = std::exp(s[j] - mx));
  return sum;
}

/// True when these kernels take rows of dtype t and head dim D.
bool supports(DType t, int64_t D) {
  return D % 32 == 0 && (t == DType::f32 || t == DType::f16 || t == DType::bf16);
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
