// AVX2 + FMA row primitives (see row_kernels.h): 8 lanes, masked loads/stores for row tails.
#if defined(PORTA_CPU_X86)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/row_kernels.h"
#include "backends/cpu/simd_avx2.h"

namespace porta::cpu {
namespace {

constexpr int64_t kBlock = 1024;  // f32 vector partial sums per block, blocks added in double

inline __m256i tail_mask(int64_t r) {  // lanes [0, r) set, 0 < r < 8
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), lane);
}

using simd::hsum;

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

using simd::exp_ps;

// x / (1 + e^(-kx)) = x * sigmoid(kx): stays finite for large |x|.
inline __m256 x_sigmoid(__m256 x, __m256 kx) {
  const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), kx));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// 0.5x(1 + erf(z)) = 0.5x * erfc(-z), z = x/sqrt(2). erfc(|z|) = t*exp(-z² + P(t)), t = 1/(1 + |z|/2),
// with the Chebyshev fit of Numerical Recipes' erfcc (relative error < 1.2e-7 for every z), so
// the result keeps its relative accuracy where 1 + erf(z) cancels (large negative x).
inline __m256 gelu_erf(__m256 x) {
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
  const __m256 t =
      _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.5f), az, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(0.17087277f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
  const __m256 erfc_abs = _mm256_mul_ps(t, exp_ps(_mm256_fnmadd_ps(z, z, p)));
  // z >= 0: erfc(-z) = 2 - erfc(z); z < 0: erfc(-z) = erfc(|z|).
  const __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 e = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc_abs), erfc_abs, neg);
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), e);
}

// Applies op(i, lanes-mask-or-null) over [0, n) in steps of 8; the tail gets a mask.
// `Body(i, mask, full)`: full == true means no masking is needed.
template <typename Body>
inline void for_lanes(int64_t n, Body&& body) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) body(i, _mm256_setzero_si256(), true);
  if (i < n) body(i, tail_mask(n - i), false);
}

inline __m256 load(const float* p, __m256i m, bool full) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
inline void store(float* p, __m256 v, __m256i m, bool full) {
  if (full)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, m, v);
}

// Σ term(v) over [0, n) with four vector accumulators per block of kBlock, blocks summed in double.
template <typename Term>
double block_sum(const float* x, int64_t n, Term&& term) {
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = b;
    for (; i + 32 <= e; i += 32) {
      a0 = term(_mm256_loadu_ps(x + i), a0);
      a1 = term(_mm256_loadu_ps(x + i + 8), a1);
      a2 = term(_mm256_loadu_ps(x + i + 16), a2);
      a3 = term(_mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= e; i += 8) a0 = term(_mm256_loadu_ps(x + i), a0);
    if (i < e) {
      // Masked-off lanes load 0; every term used here maps 0 to a contribution the mask removes.
      const __m256i m = tail_mask(e - i);
      const __m256 t = term(_mm256_maskload_ps(x + i, m), _mm256_setzero_ps());
      a1 = _mm256_add_ps(a1, _mm256_and_ps(t, _mm256_castsi256_ps(m)));
    }
    total += static_cast<double>(hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))));
  }
  return total;
}

double sum_sq(const float* x, int64_t n) {
  return block_sum(x, n, [](__m256 v, __m256 acc) { return _mm256_fmadd_ps(v, v, acc); });
}
double sum(const float* x, int64_t n) {
  return block_sum(x, n, [](__m256 v, __m256 acc) { return _mm256_add_ps(v, acc); });
}
double sum_sq_dev(const float* x, float mean, int64_t n) {
  const __m256 m = _mm256_set1_ps(mean);
  return block_sum(x, n, [m](__m256 v, __m256 acc) {
    const __m256 d = _mm256_sub_ps(v, m);
    return _mm256_fmadd_ps(d, d, acc);
  });
}

void norm_affine(const float* x, float mean, float inv, const float* w, const float* b, float* out,
                 int64_t n) {
  const __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv);
  for_lanes(n, [&](int64_t i, __m256i m, bool full) {
    __m256 v =
        _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(load(x + i, m, full), vm), vi), load(w + i, m, full));
    if (b) v = _mm256_add_ps(v, load(b + i, m, full));
    store(out + i, v, m, full);
  });
}

float scale_add_max(const float* x, float scale, const float* mask, float* out, int64_t n) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 mx = ninf, nan = _mm256_setzero_ps();
  for_lanes(n, [&](int64_t i, __m256i m, bool full) {
    __m256 v = _mm256_mul_ps(vs, load(x + i, m, full));
    if (mask) v = _mm256_add_ps(v, load(mask + i, m, full));
    store(out + i, v, m, full);
    if (!full) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(m));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    mx = _mm256_max_ps(mx, v);
  });
  if (_mm256_movemask_ps(nan) != 0) return std::numeric_limits<float>::quiet_NaN();
  return hmax(mx);
}

double exp_sum(const float* x, float mx, float* out, int64_t n) {
  const __m256 vm = _mm256_set1_ps(mx);
  for_lanes(n, [&](int64_t i, __m256i m, bool full) {
    store(out + i, exp_ps(_mm256_sub_ps(load(x + i, m, full), vm)), m, full);
  });
  return sum(out, n);
}

void scale(const float* x, float s, float* out, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  for_lanes(n, [&](int64_t i, __m256i m, bool full) {
    store(out + i, _mm256_mul_ps(vs, load(x + i, m, full)), m, full);
  });
}

template <typename Op>
inline void unary(const float* a, float* out, int64_t n, Op&& op) {
  for_lanes(n, [&](int64_t i, __m256i m, bool full) { store(out + i, op(load(a + i, m, full)), m, full); });
}
template <typename Op>
inline void binary(const float* a, const float* b, float* out, int64_t n, Op&& op) {
  for_lanes(n, [&](int64_t i, __m256i m, bool full) {
    store(out + i, op(load(a + i, m, full), load(b + i, m, full)), m, full);
  });
}

void elementwise(backend::Elementwise kind, float alpha, const float* a, const float* b, float* out,
                 int64_t n) {
  using backend::Elementwise;
  switch (kind) {
    case Elementwise::silu_mul:
      binary(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_mul_ps(x_sigmoid(x, x), y); });
      break;
    case Elementwise::gelu_tanh: {
      // 0.5x(1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x³).
      const __m256 k2 = _mm256_set1_ps(1.5957691216057308f), c = _mm256_set1_ps(0.044715f);
      unary(a, out, n, [&](__m256 x) {
        const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        return x_sigmoid(x, _mm256_mul_ps(k2, _mm256_fmadd_ps(c, x3, x)));
      });
      break;
    }
    case Elementwise::gelu_erf: unary(a, out, n, gelu_erf); break;
    case Elementwise::add:
      binary(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); });
      break;
    case Elementwise::mul:
      binary(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_mul_ps(x, y); });
      break;
    case Elementwise::scale: scale(a, alpha, out, n); break;
    default: break;
  }
}

void rope(const float* x, const float* cs, const float* sn, int64_t half, bool neox, float* out) {
  int64_t i = 0;
  if (neox) {
    for (; i + 8 <= half; i += 8) {
      const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + half);
      const __m256 c = _mm256_loadu_ps(cs + i), s = _mm256_loadu_ps(sn + i);
      _mm256_storeu_ps(out + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
      _mm256_storeu_ps(out + i + half, _mm256_fmadd_ps(x1, c, _mm256_mul_ps(x0, s)));
    }
  } else {
    // Four pairs per vector: cos/sin of pair k duplicated into lanes 2k, 2k+1; sin negated on even lanes.
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256 sign = _mm256_setr_ps(-1, 1, -1, 1, -1, 1, -1, 1);
    for (; i + 4 <= half; i += 4) {
      const __m256 v = _mm256_loadu_ps(x + 2 * i);
      const __m256 c = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(cs + i)), dup);
      const __m256 s =
          _mm256_mul_ps(sign, _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(sn + i)), dup));
      const __m256 swapped = _mm256_permute_ps(v, 0xB1);
      _mm256_storeu_ps(out + 2 * i, _mm256_fmadd_ps(v, c, _mm256_mul_ps(swapped, s)));
    }
  }
  for (; i < half; ++i) {
    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
    const float x0 = x[i0], x1 = x[i1];
    out[i0] = x0 * cs[i] - x1 * sn[i];
    out[i1] = x1 * cs[i] + x0 * sn[i];
  }
}

int64_t argmax(const float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 mx = ninf, nan = _mm256_setzero_ps();
  for_lanes(n, [&](int64_t i, __m256i m, bool full) {
    __m256 v = load(x + i, m, full);
    if (!full) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(m));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    mx = _mm256_max_ps(mx, v);
  });
  if (_mm256_movemask_ps(nan) != 0) {
    for (int64_t i = 0; i < n; ++i)
      if (std::isnan(x[i])) return i;
  }
  const float best = hmax(mx);
  const __m256 vb = _mm256_set1_ps(best);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), vb, _CMP_EQ_OQ));
    if (bits != 0) return i + __builtin_ctz(static_cast<unsigned>(bits));
  }
  for (; i < n; ++i)
    if (x[i] == best) return i;
  return 0;  // unreachable: best is one of the elements
}

}  // namespace

const RowKernels& detail::row_kernels_avx2() {
  static const RowKernels k{sum_sq,  sum,   sum_sq_dev,  norm_affine, scale_add_max,
                            exp_sum, scale, elementwise, rope,        argmax};
  return k;
}

}  // namespace porta::cpu
#endif
