// AVX2 + FMA + F16C GEMM inner loops: a 6x16 register tile (12 accumulators; per k step
// 2 B loads, 6 broadcasts, 12 FMAs), a vectorised bias + activation epilogue, and the
// small-M loops that stream B once, converting f16/bf16 to f32 in registers.
#if defined(PORTA_CPU_X86)
#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/simd_avx2.h"

namespace porta::cpu {
namespace {

constexpr int kMr = 6, kNr = 16;

inline void store_tile_row(float* c, __m256 lo, __m256 hi, __m256 va, __m256 vb, bool read) {
  if (read) {
    lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), _mm256_mul_ps(va, lo));
    hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), _mm256_mul_ps(va, hi));
  } else {
    lo = _mm256_mul_ps(va, lo);
    hi = _mm256_mul_ps(va, hi);
  }
  _mm256_storeu_ps(c, lo);
  _mm256_storeu_ps(c + 8, hi);
}

void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
         c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int i = 0; i < kMr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#define PORTA_STEP(ai, x0, x1)                     \
  {                                                \
    const __m256 av = _mm256_broadcast_ss(a + ai); \
    x0 = _mm256_fmadd_ps(av, b0, x0);              \
    x1 = _mm256_fmadd_ps(av, b1, x1);              \
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNr), _MM_HINT_T0);
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
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const bool read = beta != 0.0f;
  store_tile_row(c, c00, c01, va, vb, read);
  store_tile_row(c + ldc, c10, c11, va, vb, read);
  store_tile_row(c + 2 * ldc, c20, c21, va, vb, read);
  store_tile_row(c + 3 * ldc, c30, c31, va, vb, read);
  store_tile_row(c + 4 * ldc, c40, c41, va, vb, read);
  store_tile_row(c + 5 * ldc, c50, c51, va, vb, read);
}

using simd::exp_ps;

inline __m256 activate_ps(ops::Activation act, __m256 v) {
  switch (act) {
    case ops::Activation::none: return v;
    case ops::Activation::relu: return _mm256_max_ps(v, _mm256_setzero_ps());
    case ops::Activation::gelu: {
      // 0.5x(1 + tanh(u)) == x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3)
      const __m256 x2 = _mm256_mul_ps(v, v);
      const __m256 u2 = _mm256_mul_ps(_mm256_set1_ps(-2.0f * 0.7978845608028654f),
                                      _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), _mm256_mul_ps(x2, v), v));
      return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(u2)));
    }
    case ops::Activation::silu:
      return _mm256_div_ps(
          v, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), v))));
  }
  return v;
}

void bias_act(float* row, int64_t n, const float* bias, ops::Activation act) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_loadu_ps(row + j);
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
    _mm256_storeu_ps(row + j, activate_ps(act, v));
  }
  for (; j < n; ++j) row[j] = gemm_activate(act, row[j] + (bias ? bias[j] : 0.0f));
}

// Eight elements of B at p + i as f32, one struct per dtype so loops carry no dispatch.
using simd::LoadBF16;
using simd::LoadF16;
using simd::LoadF32;

inline const void* elem(DType t, const void* p, int64_t i) {
  return static_cast<const char*>(p) + i * static_cast<int64_t>(dtype_size(t));
}

// B rows contiguous: four rows of B per pass, each 8-column vector converted once and used
// by every row of A; accumulators live in acc (L1-sized by the caller).
template <typename L>
void small_m_rows_t(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                    int64_t n, float* acc, int64_t ldacc) {
  const int64_t n8 = n & ~int64_t(7);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < n; ++j) acc[m * ldacc + j] = 0.0f;
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const void *r0 = elem(bt, b, k * ldb), *r1 = elem(bt, b, (k + 1) * ldb), *r2 = elem(bt, b, (k + 2) * ldb),
               *r3 = elem(bt, b, (k + 3) * ldb);
    if (M == 1) {  // decode: broadcasts hoisted, pure streaming
      const __m256 a0 = _mm256_set1_ps(a[k]), a1 = _mm256_set1_ps(a[k + 1]), a2 = _mm256_set1_ps(a[k + 2]),
                   a3 = _mm256_set1_ps(a[k + 3]);
      for (int64_t j = 0; j < n8; j += 8) {
        __m256 p = _mm256_fmadd_ps(a0, L::at(r0, j), _mm256_loadu_ps(acc + j));
        __m256 q = _mm256_mul_ps(a1, L::at(r1, j));
        p = _mm256_fmadd_ps(a2, L::at(r2, j), p);
        q = _mm256_fmadd_ps(a3, L::at(r3, j), q);
        _mm256_storeu_ps(acc + j, _mm256_add_ps(p, q));
      }
    } else {
      for (int64_t j = 0; j < n8; j += 8) {
        const __m256 b0 = L::at(r0, j), b1 = L::at(r1, j), b2 = L::at(r2, j), b3 = L::at(r3, j);
        for (int64_t m = 0; m < M; ++m) {
          const float* am = a + m * lda + k;
          float* cm = acc + m * ldacc + j;
          __m256 p = _mm256_fmadd_ps(_mm256_broadcast_ss(am), b0, _mm256_loadu_ps(cm));
          __m256 q = _mm256_mul_ps(_mm256_broadcast_ss(am + 1), b1);
          p = _mm256_fmadd_ps(_mm256_broadcast_ss(am + 2), b2, p);
          q = _mm256_fmadd_ps(_mm256_broadcast_ss(am + 3), b3, q);
          _mm256_storeu_ps(cm, _mm256_add_ps(p, q));
        }
      }
    }
  }
  for (; k < K; ++k) {
    const void* r = elem(bt, b, k * ldb);
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 bv = L::at(r, j);
      for (int64_t m = 0; m < M; ++m) {
        float* cm = acc + m * ldacc + j;
        _mm256_storeu_ps(cm, _mm256_fmadd_ps(_mm256_broadcast_ss(a + m * lda + k), bv, _mm256_loadu_ps(cm)));
      }
    }
  }
  for (int64_t j = n8; j < n; ++j)  // column tail
    for (int64_t kk = 0; kk < K; ++kk) {
      const float bv = load_f32(bt, b, kk * ldb + j);
      for (int64_t m = 0; m < M; ++m) acc[m * ldacc + j] += a[m * lda + kk] * bv;
    }
}

using simd::hsum;

// B columns contiguous: R rows of A x C columns of B as R*C dot products over K.
template <typename L, int R, int C>
void dots(int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb, float* out,
          int64_t ldo) {
  __m256 s[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) s[r][c] = _mm256_setzero_ps();
  const void* col[C];
  for (int c = 0; c < C; ++c) col[c] = elem(bt, b, c * ldb);
  const int64_t k8 = K & ~int64_t(7);
  for (int64_t k = 0; k < k8; k += 8) {
    __m256 bv[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) bv[c] = L::at(col[c], k);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_loadu_ps(a + r * lda + k);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) s[r][c] = _mm256_fmadd_ps(av, bv[c], s[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float v = hsum(s[r][c]);
      for (int64_t k = k8; k < K; ++k) v += a[r * lda + k] * load_f32(bt, col[c], k);
      out[r * ldo + c] = v;
    }
}

template <typename L, int C>
void dots_all_rows(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                   float* out, int64_t ldo) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) dots<L, 4, C>(K, a + m * lda, lda, bt, b, ldb, out + m * ldo, ldo);
  switch (M - m) {
    case 3: dots<L, 3, C>(K, a + m * lda, lda, bt, b, ldb, out + m * ldo, ldo); break;
    case 2: dots<L, 2, C>(K, a + m * lda, lda, bt, b, ldb, out + m * ldo, ldo); break;
    case 1: dots<L, 1, C>(K, a + m * lda, lda, bt, b, ldb, out + m * ldo, ldo); break;
    default: break;
  }
}

template <typename L>
void small_m_cols_t(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                    int64_t n, float* acc, int64_t ldacc) {
  int64_t j = 0;
  if (M == 1) {  // eight independent streams keep both FMA pipes busy
    for (; j + 8 <= n; j += 8) dots<L, 1, 8>(K, a, lda, bt, elem(bt, b, j * ldb), ldb, acc + j, ldacc);
  } else {
    for (; j + 2 <= n; j += 2)
      dots_all_rows<L, 2>(M, K, a, lda, bt, elem(bt, b, j * ldb), ldb, acc + j, ldacc);
  }
  for (; j < n; ++j) dots_all_rows<L, 1>(M, K, a, lda, bt, elem(bt, b, j * ldb), ldb, acc + j, ldacc);
}

void small_m_rows(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                  int64_t n, float* acc, int64_t ldacc) {
  switch (bt) {
    case DType::f16: return small_m_rows_t<LoadF16>(M, K, a, lda, bt, b, ldb, n, acc, ldacc);
    case DType::bf16: return small_m_rows_t<LoadBF16>(M, K, a, lda, bt, b, ldb, n, acc, ldacc);
    default: return small_m_rows_t<LoadF32>(M, K, a, lda, bt, b, ldb, n, acc, ldacc);
  }
}

void small_m_cols(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                  int64_t n, float* acc, int64_t ldacc) {
  switch (bt) {
    case DType::f16: return small_m_cols_t<LoadF16>(M, K, a, lda, bt, b, ldb, n, acc, ldacc);
    case DType::bf16: return small_m_cols_t<LoadBF16>(M, K, a, lda, bt, b, ldb, n, acc, ldacc);
    default: return small_m_cols_t<LoadF32>(M, K, a, lda, bt, b, ldb, n, acc, ldacc);
  }
}

// Packs whole panels of B, groups of four panels per pass so each B row is read 4*nr
// elements at a time; the ragged last panel goes to the portable packer.
template <typename L>
void pack_b_rows_t(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols, float* dst) {
  const int64_t full = cols / nr;
  for (int64_t p0 = 0; p0 < full; p0 += 4) {
    const int64_t p1 = std::min<int64_t>(full, p0 + 4);
    for (int64_t k = 0; k < kc; ++k) {
      const void* row = elem(t, src, k * ld);
      for (int64_t p = p0; p < p1; ++p) {
        float* d = dst + (p * kc + k) * nr;
        for (int v = 0; v < nr; v += 8) _mm256_storeu_ps(d + v, L::at(row, p * nr + v));
      }
    }
  }
  if (full * nr < cols)
    gemm_pack_b_rows_generic(nr, t, elem(t, src, full * nr), ld, kc, cols - full * nr, dst + full * kc * nr);
}

inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Columns of B contiguous along k ([N, K] weights): 8 columns x 8 k per step through an
// 8x8 register transpose, so packing reads and writes whole vectors.
template <typename L>
void pack_b_cols_t(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols, float* dst) {
  const int64_t full = cols / nr, k8 = kc & ~int64_t(7);
  for (int64_t p = 0; p < full; ++p)
    for (int jb = 0; jb < nr; jb += 8) {
      const void* col[8];
      for (int i = 0; i < 8; ++i) col[i] = elem(t, src, (p * nr + jb + i) * ld);
      float* d = dst + p * kc * nr + jb;
      for (int64_t k = 0; k < k8; k += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = L::at(col[i], k);
        transpose8(r);
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + (k + i) * nr, r[i]);
      }
      for (int64_t k = k8; k < kc; ++k)
        for (int i = 0; i < 8; ++i) d[k * nr + i] = load_f32(t, col[i], k);
    }
  if (full * nr < cols)
    gemm_pack_b_cols_generic(nr, t, elem(t, src, full * nr * ld), ld, kc, cols - full * nr,
                             dst + full * kc * nr);
}

void pack_b_rows(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols, float* dst) {
  switch (t) {
    case DType::f16: return pack_b_rows_t<LoadF16>(nr, t, src, ld, kc, cols, dst);
    case DType::bf16: return pack_b_rows_t<LoadBF16>(nr, t, src, ld, kc, cols, dst);
    default: return pack_b_rows_t<LoadF32>(nr, t, src, ld, kc, cols, dst);
  }
}

void pack_b_cols(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols, float* dst) {
  switch (t) {
    case DType::f16: return pack_b_cols_t<LoadF16>(nr, t, src, ld, kc, cols, dst);
    case DType::bf16: return pack_b_cols_t<LoadBF16>(nr, t, src, ld, kc, cols, dst);
    default: return pack_b_cols_t<LoadF32>(nr, t, src, ld, kc, cols, dst);
  }
}

}  // namespace

const GemmMicrokernel& gemm_microkernel_avx2() {
  // kc*nr*4 = 16 KiB B micro-panel in L1; mc*kc*4 = 144 KiB A block in L2 (512 KiB);
  // kc*nc*4 = 4 MiB B panel in L3 (32 MiB), shared by the threads.
  static const GemmMicrokernel k{
      "avx2",      {kMr, kNr, 256, 144, 4080}, &tile, &bias_act, &small_m_rows, &small_m_cols, &pack_b_rows,
      &pack_b_cols};
  return k;
}

}  // namespace porta::cpu
#endif
