// AVX-512 GEMM inner loops: the AVX2 6x16 kernel widened to 6x32 (12 zmm accumulators)
// and a 16-wide bias + activation epilogue. The small-M loops (memory-bound) and B packing
// reuse the AVX2 ones, which take nr as a parameter. Compiled with AVX-512 flags; chosen only where CPUID
// reports AVX-512.
#if defined(PORTA_CPU_X86)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_*.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/simd_avx512.h"

namespace porta::cpu {
namespace {

constexpr int kMr = 6, kNr = 32;

inline void store_tile_row(float* c, __m512 lo, __m512 hi, __m512 va, __m512 vb, bool read) {
  if (read) {
    lo = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), _mm512_mul_ps(va, lo));
    hi = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), _mm512_mul_ps(va, hi));
  } else {
    lo = _mm512_mul_ps(va, lo);
    hi = _mm512_mul_ps(va, hi);
  }
  _mm512_storeu_ps(c, lo);
  _mm512_storeu_ps(c + 16, hi);
}

void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
         c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define PORTA_STEP(ai, x0, x1)               \
  {                                          \
    const __m512 av = _mm512_set1_ps(a[ai]); \
    x0 = _mm512_fmadd_ps(av, b0, x0);        \
    x1 = _mm512_fmadd_ps(av, b1, x1);        \
  }
  // C rows are written (and read when beta != 0) only after the k loop: fetching their
  // lines now hides the L2/L3 misses of a large C behind the FMAs (2048³ f32 on a 2-core
  // Xeon: 0.74x -> 0.94x OpenBLAS with its SkylakeX kernels). Unrolling k by 4 takes the
  // loop overhead off the 12 FMAs a step (the kernel alone 113 -> 167 GFLOP/s on one core).
  // B needs no prefetch: its kc x nr micro-panel stays in L1 across the A panels.
  for (int i = 0; i < kMr; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    PORTA_STEP(0, c00, c01)
    PORTA_STEP(1, c10, c11)
    PORTA_STEP(2, c20, c21)
    PORTA_STEP(3, c30, c31)
    PORTA_STEP(4, c40, c41)
    PORTA_STEP(5, c50, c51)
    a += kMr;
    b += kNr;
  }
#undef PORTA_STEP
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const bool read = beta != 0.0f;
  store_tile_row(c, c00, c01, va, vb, read);
  store_tile_row(c + ldc, c10, c11, va, vb, read);
  store_tile_row(c + 2 * ldc, c20, c21, va, vb, read);
  store_tile_row(c + 3 * ldc, c30, c31, va, vb, read);
  store_tile_row(c + 4 * ldc, c40, c41, va, vb, read);
  store_tile_row(c + 5 * ldc, c50, c51, va, vb, read);
}

using simd512::exp_ps;

inline __m512 activate_ps(ops::Activation act, __m512 v) {
  const __m512 one = _mm512_set1_ps(1.0f);
  switch (act) {
    case ops::Activation::none: return v;
    case ops::Activation::relu: return _mm512_max_ps(v, _mm512_setzero_ps());
    case ops::Activation::gelu: {  // x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3)
      const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
      const __m512 u2 = _mm512_mul_ps(_mm512_set1_ps(-2.0f * 0.7978845608028654f),
                                      _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, v));
      return _mm512_div_ps(v, _mm512_add_ps(one, exp_ps(u2)));
    }
    case ops::Activation::silu:
      return _mm512_div_ps(v, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), v))));
  }
  return v;
}

void bias_act(float* row, int64_t n, const float* bias, ops::Activation act) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 v = _mm512_loadu_ps(row + j);
    if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + j));
    _mm512_storeu_ps(row + j, activate_ps(act, v));
  }
  for (; j < n; ++j) row[j] = gemm_activate(act, row[j] + (bias ? bias[j] : 0.0f));
}

}  // namespace

const GemmMicrokernel& gemm_microkernel_avx512() {
  // kc*nr*4 = 32 KiB B micro-panel; A block 144 KiB in L2; B panel ~4 MiB in L3.
  static const GemmMicrokernel k{"avx512",
                                 {kMr, kNr, 256, 144, 4064},
                                 &tile,
                                 &bias_act,
                                 gemm_microkernel_avx2().small_m_rows,
                                 gemm_microkernel_avx2().small_m_cols,
                                 gemm_microkernel_avx2().pack_b_rows,
                                 gemm_microkernel_avx2().pack_b_cols};
  return k;
}

}  // namespace porta::cpu
#endif
