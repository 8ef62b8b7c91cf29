// The GEMM epilogue every path shares: v = act(alpha*acc + beta*C_old + bias[n]), stored
// through C's strides in C's dtype. C's old value is read only when beta != 0.
#pragma once

#include "device_common.cuh"

namespace porta::cuda {

__device__ __forceinline__ void gemm_store(const GemmDesc& d, int64_t b, int64_t m, int64_t n, float acc) {
  const int64_t co = b * d.c.strides[1] + m * d.c.strides[2] + n * d.c.strides[3];
  float v = d.alpha * acc;
  if (d.beta != 0.0f) v += d.beta * load_f(d.c.ptr, d.c.dtype, co);
  if (d.bias.ptr) v += load_f(d.bias.ptr, d.bias.dtype, n * d.bias.strides[3]);
  store_f(d.c.ptr, d.c.dtype, co, activate(d.act, v));
}

/// Either the epilogue (one split) or the raw f32 partial sum of split `split`.
__device__ __forceinline__ void gemm_store_or_partial(const GemmDesc& d, int64_t b, int split, int64_t m,
                                                      int64_t n, float acc) {
  if (d.splits <= 1)
    gemm_store(d, b, m, n, acc);
  else
    d.partial[((int64_t(split) * d.batch + b) * d.M + m) * d.N + n] = acc;
}

}  // namespace porta::cuda
