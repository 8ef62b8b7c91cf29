// AVX2 + FMA + F16C GEMM inner kernels: a 6x16 register tile (12 accumulators,
// 2 B loads and 6 broadcasts per k step) and converting dot/axpy for small M.
#if defined(PORTA_CPU_X86)
#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_kernels.h"
#include "backends/cpu/simd_avx2.h"

namespace porta::cpu {
namespace {

using simd::hsum;
using simd::LoadBF16;
using simd::LoadF16;
using simd::LoadF32;

constexpr int kMr = 6, kNr = 16;

void micro(int64_t kc, const float* a, const float* b, float* tile) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    // Unaligned loads: packed panels inside attention scratch are only 16-byte aligned.
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    _mm_prefetch(reinterpret_cast<const char*>(b + 64), _MM_HINT_T0);
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a += kMr;
    b += kNr;
  }
  _mm256_store_ps(tile + 0, c00);
  _mm256_store_ps(tile + 8, c01);
  _mm256_store_ps(tile + 16, c10);
  _mm256_store_ps(tile + 24, c11);
  _mm256_store_ps(tile + 32, c20);
  _mm256_store_ps(tile + 40, c21);
  _mm256_store_ps(tile + 48, c30);
  _mm256_store_ps(tile + 56, c31);
  _mm256_store_ps(tile + 64, c40);
  _mm256_store_ps(tile + 72, c41);
  _mm256_store_ps(tile + 80, c50);
  _mm256_store_ps(tile + 88, c51);
}

void merge(const float* tile, float* c, int64_t ldc, float alpha, float beta) {
  const __m256 av = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < kMr; ++i) {
      _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(av, _mm256_load_ps(tile + i * kNr)));
      _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(av, _mm256_load_ps(tile + i * kNr + 8)));
    }
    return;
  }
  const __m256 bv = _mm256_set1_ps(beta);
  for (int i = 0; i < kMr; ++i) {
    float* r = c + i * ldc;
    _mm256_storeu_ps(
        r, _mm256_fmadd_ps(av, _mm256_load_ps(tile + i * kNr), _mm256_mul_ps(bv, _mm256_loadu_ps(r))));
    _mm256_storeu_ps(r + 8, _mm256_fmadd_ps(av, _mm256_load_ps(tile + i * kNr + 8),
                                            _mm256_mul_ps(bv, _mm256_loadu_ps(r + 8))));
  }
}

void to_f32(DType t, const void* src, float* dst, int64_t n) {
  int64_t i = 0;
  // One loop per dtype so the conversion is not re-dispatched every 8 elements.
  if (t == DType::f16) {
    const auto* p = static_cast<const __m128i*>(src);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(p + i / 8)));
  } else if (t == DType::bf16) {
    const auto* p = static_cast<const __m128i*>(src);
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(
                                    _mm256_cvtepu16_epi32(_mm_loadu_si128(p + i / 8)), 16)));
  } else if (t == DType::f32) {
    std::copy_n(static_cast<const float*>(src), n, dst);
    return;
  }
  for (; i < n; ++i) dst[i] = load_f32(t, src, i);
}

template <typename L>
float dot_t(const float* a, DType t, const void* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), L::at(b, i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), L::at(b, i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), L::at(b, i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), L::at(b, i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), L::at(b, i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * load_f32(t, b, i);
  return s;
}

float dot(const float* a, DType t, const void* b, int64_t n) {
  switch (t) {
    case DType::f16: return dot_t<LoadF16>(a, t, b, n);
    case DType::bf16: return dot_t<LoadBF16>(a, t, b, n);
    default: return dot_t<LoadF32>(a, t, b, n);
  }
}

template <typename L>
void axpy_t(float alpha, DType t, const void* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, L::at(x, i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * load_f32(t, x, i);
}

void axpy(float alpha, DType t, const void* x, float* y, int64_t n) {
  switch (t) {
    case DType::f16: return axpy_t<LoadF16>(alpha, t, x, y, n);
    case DType::bf16: return axpy_t<LoadBF16>(alpha, t, x, y, n);
    default: return axpy_t<LoadF32>(alpha, t, x, y, n);
  }
}

}  // namespace

const GemmKernels& gemm_kernels_avx2() {
  // kc*nr*4 = 16 KiB B micro-panel in L1; mc*kc*4 = 96 KiB A block in L2; nc panel in L3.
  static const GemmKernels k{"avx2", {kMr, kNr, 256, 96, 2048}, &micro, &merge, &to_f32, &dot, &axpy};
  return k;
}

}  // namespace porta::cpu
#endif
