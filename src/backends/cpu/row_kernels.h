// Vectorised f32 row primitives shared by the bandwidth-bound kernels (norms, softmax,
// rope, element-wise, argmax). Rows are contiguous f32; callers convert f16/bf16 rows
// through convert.h first. `out` may be the very same array as an input (in-place), never
// a partial overlap. Chosen once by CPUID (AVX2+FMA+F16C, else portable scalar code).
#pragma once

#include <cstdint>

#include "core/backend.h"

namespace porta::cpu {

struct RowKernels {
  /// Σ x[i]², Σ x[i] and Σ (x[i]-mean)²: f32 vector partial sums per block, blocks added in double.
  double (*sum_sq)(const float* x, int64_t n);
  double (*sum)(const float* x, int64_t n);
  double (*sum_sq_dev)(const float* x, float mean, int64_t n);
  /// out[i] = (x[i] - mean) * inv * w[i] (+ b[i] when b is not null).
  void (*norm_affine)(const float* x, float mean, float inv, const float* w, const float* b, float* out,
                      int64_t n);
  /// out[i] = scale * x[i] (+ mask[i] when mask is not null); returns the max of out
  /// (NaN when any out[i] is NaN).
  float (*scale_add_max)(const float* x, float scale, const float* mask, float* out, int64_t n);
  /// out[i] = exp(x[i] - m); returns Σ out[i] (accumulated as in sum).
  double (*exp_sum)(const float* x, float m, float* out, int64_t n);
  /// out[i] = s * x[i].
  void (*scale)(const float* x, float s, float* out, int64_t n);
  /// The float element-wise kinds (silu_mul, gelu_tanh, gelu_erf, add, mul, scale); b is
  /// read only by the binary kinds.
  void (*elementwise)(backend::Elementwise kind, float alpha, const float* a, const float* b, float* out,
                      int64_t n);
  /// Rotates the first 2*half elements of x into out. neox pairs (i, i+half), gptj pairs
  /// (2i, 2i+1); cs/sn hold cos/sin of pair i.
  void (*rope)(const float* x, const float* cs, const float* sn, int64_t half, bool neox, float* out);
  /// Index of the first maximum; a NaN counts as larger than any number (first NaN wins).
  int64_t (*argmax)(const float* x, int64_t n);
};

/// The best implementation for this CPU. Thread-safe.
const RowKernels& row_kernels();

namespace detail {
const RowKernels& row_kernels_generic();  // row_kernels.cpp
#if defined(PORTA_CPU_X86)
const RowKernels& row_kernels_avx2();  // row_kernels_avx2.cpp
#endif
}  // namespace detail

}  // namespace porta::cpu
