// Portable row primitives (see row_kernels.h) and the CPUID choice between them and AVX2.
#include "backends/cpu/row_kernels.h"
#include "backends/cpu/cpu_features.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace porta::cpu {
namespace {

constexpr int64_t kBlock = 1024;  // f32 partial sums stay short; blocks are added in double

template <typename Term>
double block_sum(int64_t n, Term&& term) {
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    float acc[4] = {0, 0, 0, 0};
    const int64_t e = std::min(n, b + kBlock);
    int64_t i = b;
    for (; i + 4 <= e; i += 4)
      for (int k = 0; k < 4; ++k) acc[k] += term(i + k);
    for (; i < e; ++i) acc[0] += term(i);
    total += static_cast<double>((acc[0] + acc[1]) + (acc[2] + acc[3]));
  }
  return total;
}

double sum_sq(const float* x, int64_t n) {
  return block_sum(n, [x](int64_t i) { return x[i] * x[i]; });
}
double sum(const float* x, int64_t n) {
  return block_sum(n, [x](int64_t i) { return x[i]; });
}
double sum_sq_dev(const float* x, float mean, int64_t n) {
  return block_sum(n, [x, mean](int64_t i) { return (x[i] - mean) * (x[i] - mean); });
}

void norm_affine(const float* x, float mean, float inv, const float* w, const float* b, float* out,
                 int64_t n) {
  if (b) {
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * w[i] + b[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * w[i];
  }
}

float scale_add_max(const float* x, float scale, const float* mask, float* out, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float v = scale * x[i] + (mask ? mask[i] : 0.0f);
    out[i] = v;
    nan |= std::isnan(v);
    mx = std::max(mx, v);
  }
  return nan ? std::numeric_limits<float>::quiet_NaN() : mx;
}

double exp_sum(const float* x, float m, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - m);
  return sum(out, n);
}

void scale(const float* x, float s, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = s * x[i];
}

// x * sigmoid(k*x) written as x / (1 + e^(-k*x)): no inf/inf for large |x|.
inline float x_sigmoid(float x, float kx) { return x / (1.0f + std::exp(-kx)); }

void elementwise(backend::Elementwise kind, float alpha, const float* a, const float* b, float* out,
                 int64_t n) {
  using backend::Elementwise;
  switch (kind) {
    case Elementwise::silu_mul:
      for (int64_t i = 0; i < n; ++i) out[i] = x_sigmoid(a[i], a[i]) * b[i];
      break;
    case Elementwise::gelu_tanh:
      // 0.5x(1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x³).
      for (int64_t i = 0; i < n; ++i) {
        const float x = a[i];
        out[i] = x_sigmoid(x, 1.5957691216057308f * (x + 0.044715f * x * x * x));
      }
      break;
    case Elementwise::gelu_erf:
      for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * a[i] * std::erfc(-a[i] * 0.7071067811865476f);
      break;
    case Elementwise::add:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
      break;
    case Elementwise::mul:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
      break;
    case Elementwise::scale:
      for (int64_t i = 0; i < n; ++i) out[i] = alpha * a[i];
      break;
    default: break;
  }
}

void rope(const float* x, const float* cs, const float* sn, int64_t half, bool neox, float* out) {
  for (int64_t i = 0; i < half; ++i) {
    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
    const float x0 = x[i0], x1 = x[i1];
    out[i0] = x0 * cs[i] - x1 * sn[i];
    out[i1] = x1 * cs[i] + x0 * sn[i];
  }
}

int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  float bv = x[0];
  if (std::isnan(bv)) return 0;
  for (int64_t i = 1; i < n; ++i) {
    if (std::isnan(x[i])) return i;
    if (x[i] > bv) {
      bv = x[i];
      best = i;
    }
  }
  return best;
}

bool has_avx2() {
#if defined(PORTA_CPU_X86)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu::cpu_has_f16c();
#else
  return false;
#endif
}

}  // namespace

const RowKernels& detail::row_kernels_generic() {
  static const RowKernels k{sum_sq,  sum,   sum_sq_dev,  norm_affine, scale_add_max,
                            exp_sum, scale, elementwise, rope,        argmax};
  return k;
}

const RowKernels& row_kernels() {
#if defined(PORTA_CPU_X86)
  static const RowKernels& k = has_avx2() ? detail::row_kernels_avx2() : detail::row_kernels_generic();
#else
  static const RowKernels& k = detail::row_kernels_generic();
#endif
  return k;
}

}  // namespace porta::cpu
