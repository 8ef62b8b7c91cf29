// The decode block kernels for AVX2/FMA: scores with explicit intrinsics (float
// reductions are not auto-vectorised without fast-math), accumulation from
// attention_blocks.h compiled with AVX2 flags.
#if defined(PORTA_CPU_X86)
#include <immintrin.h>

#include <cstdint>

namespace porta::cpu::avx2 {
#include "backends/cpu/attention_blocks.h"

namespace {
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
}  // namespace

void scores(const float* q, int64_t R, int64_t D, const float* k, int64_t ks, int64_t n, float* s) {
  if (D % 8 != 0) return decode_scores(q, R, D, k, ks, n, s);
  for (int64_t j = 0; j < n; ++j) {
    const float* kr = k + j * ks;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {  // four query rows share each K load
      const float* q0 = q + r * D;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
             a3 = _mm256_setzero_ps();
      for (int64_t d = 0; d < D; d += 8) {
        const __m256 kv = _mm256_loadu_ps(kr + d);
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
      for (int64_t d = 0; d < D; d += 8)
        a = _mm256_fmadd_ps(_mm256_loadu_ps(q + r * D + d), _mm256_loadu_ps(kr + d), a);
      s[r * n + j] = hsum(a);
    }
  }
}

// Register tile: 4 query rows x 32 columns of D (16 accumulators); each V load feeds 4 FMAs.
void accumulate(const float* p, int64_t R, int64_t n, const float* v, int64_t vs, int64_t D, float* acc) {
  if (D % 32 != 0) return decode_accumulate(p, R, n, v, vs, D, acc);
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) {
    const float* p0 = p + r * n;
    for (int64_t d = 0; d < D; d += 32) {
      __m256 c[4][4];
      for (int i = 0; i < 4; ++i)
        for (int x = 0; x < 4; ++x) c[i][x] = _mm256_loadu_ps(acc + (r + i) * D + d + 8 * x);
      for (int64_t j = 0; j < n; ++j) {
        const float* vr = v + j * vs + d;
        const __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8), v2 = _mm256_loadu_ps(vr + 16),
                     v3 = _mm256_loadu_ps(vr + 24);
        for (int i = 0; i < 4; ++i) {
          const __m256 w = _mm256_broadcast_ss(p0 + i * n + j);
          c[i][0] = _mm256_fmadd_ps(w, v0, c[i][0]);
          c[i][1] = _mm256_fmadd_ps(w, v1, c[i][1]);
          c[i][2] = _mm256_fmadd_ps(w, v2, c[i][2]);
          c[i][3] = _mm256_fmadd_ps(w, v3, c[i][3]);
        }
      }
      for (int i = 0; i < 4; ++i)
        for (int x = 0; x < 4; ++x) _mm256_storeu_ps(acc + (r + i) * D + d + 8 * x, c[i][x]);
    }
  }
  if (r < R) decode_accumulate(p + r * n, R - r, n, v, vs, D, acc + r * D);
}
}  // namespace porta::cpu::avx2
#endif
