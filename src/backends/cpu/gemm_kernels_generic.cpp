// Portable GEMM inner kernels (any CPU); the compiler vectorises the fixed-size loops.
#include <algorithm>

#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_kernels.h"

namespace porta::cpu {
namespace {

constexpr int kMr = 4, kNr = 8;

void micro(int64_t kc, const float* a, const float* b, float* tile) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMr, b += kNr)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < kMr; ++i)
    for (int j = 0; j < kNr; ++j) tile[i * kNr + j] = acc[i][j];
}

void merge(const float* tile, float* c, int64_t ldc, float alpha, float beta) {
  for (int i = 0; i < kMr; ++i)
    for (int j = 0; j < kNr; ++j)
      c[i * ldc + j] = alpha * tile[i * kNr + j] + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0f);
}

void to_f32(DType t, const void* src, float* dst, int64_t n) {
  if (t == DType::f32) {
    std::copy_n(static_cast<const float*>(src), n, dst);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = load_f32(t, src, i);
}

float dot(const float* a, DType t, const void* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * load_f32(t, b, i + j);
  float s = 0;
  for (; i < n; ++i) s += a[i] * load_f32(t, b, i);
  for (float v : acc) s += v;
  return s;
}

void axpy(float alpha, DType t, const void* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * load_f32(t, x, i);
}

}  // namespace

const GemmKernels& gemm_kernels_generic() {
  static const GemmKernels k{"generic", {kMr, kNr, 256, 64, 1024}, &micro, &merge, &to_f32, &dot, &axpy};
  return k;
}

const GemmKernels& gemm_kernels() {
#if defined(PORTA_CPU_X86)
  static const GemmKernels& chosen =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")
          ? gemm_kernels_avx2()
          : gemm_kernels_generic();
  return chosen;
#else
  return gemm_kernels_generic();
#endif
}

}  // namespace porta::cpu
