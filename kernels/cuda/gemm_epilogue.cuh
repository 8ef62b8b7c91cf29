// The GEMM epilogue every path shares: v = act(alpha*acc + beta*C_old + bias[n]), stored
// through C's strides in C's dtype. C's old value is read only when beta != 0.
#pragma once

#include "device_common.cuh"

namespace porta::cuda {

__device__ __forceinline__ float gemm_epilogue_value(const GemmDesc& d, int64_t co, int64_t n, float acc) {
  float v = d.alpha * acc;
  if (d.beta != 0.0f) v += d.beta * load_f(d.c.ptr, d.c.dtype, co);
  if (d.bias.ptr) v += load_f(d.bias.ptr, d.bias.dtype, n * d.bias.strides[3]);
  return activate(d.act, v);
}

__device__ __forceinline__ void gemm_store(const GemmDesc& d, int64_t b, int64_t m, int64_t n, float acc) {
  const int64_t co = b * d.c.strides[1] + m * d.c.strides[2] + n * d.c.strides[3];
  store_f(d.c.ptr, d.c.dtype, co, gemm_epilogue_value(d, co, n, acc));
}

/// Either the epilogue (one split) or the raw f32 partial sum of split `split`.
__device__ __forceinline__ void gemm_store_or_partial(const GemmDesc& d, int64_t b, int split, int64_t m,
                                                      int64_t n, float acc) {
  if (d.splits <= 1)
    gemm_store(d, b, m, n, acc);
  else
    d.partial[((int64_t(split) * d.batch + b) * d.M + m) * d.N + n] = acc;
}

/// Whether gemm_store_pair may write columns (n, n+1), n even, as one 4-byte (16-bit C) or
/// 8-byte (f32 C, f32 partials) store: C unit-stride along N with even row/batch strides and
/// a pointer aligned to two elements (the split-K partials are dense [.., M, N]: N even).
__device__ __forceinline__ bool gemm_pairs_ok(const GemmDesc& d) {
  if (d.splits > 1) return d.N % 2 == 0;
  if (d.c.dtype != kF32 && d.c.dtype != kF16 && d.c.dtype != kBF16) return false;
  const uintptr_t align = d.c.dtype == kF32 ? 8 : 4;
  return d.c.strides[3] == 1 && d.c.strides[2] % 2 == 0 && d.c.strides[1] % 2 == 0 &&
         reinterpret_cast<uintptr_t>(d.c.ptr) % align == 0;
}

/// Columns n (even) and n + 1 of row m; `pairs` = gemm_pairs_ok(d). Columns >= N are skipped.
__device__ __forceinline__ void gemm_store_pair(const GemmDesc& d, int64_t b, int split, int64_t m, int64_t n,
                                                float v0, float v1, bool pairs) {
  if (!pairs || n + 1 >= d.N) {
    if (n < d.N) gemm_store_or_partial(d, b, split, m, n, v0);
    if (n + 1 < d.N) gemm_store_or_partial(d, b, split, m, n + 1, v1);
    return;
  }
  if (d.splits > 1) {
    *reinterpret_cast<float2*>(d.partial + ((int64_t(split) * d.batch + b) * d.M + m) * d.N + n) =
        make_float2(v0, v1);
    return;
  }
  const int64_t co = b * d.c.strides[1] + m * d.c.strides[2] + n;
  v0 = gemm_epilogue_value(d, co, n, v0);
  v1 = gemm_epilogue_value(d, co + 1, n + 1, v1);
  if (d.c.dtype == kF32) {
    *reinterpret_cast<float2*>(d.c.ptr + co * 4) = make_float2(v0, v1);
  } else {
    const bool bf = d.c.dtype == kBF16;
    const uint32_t lo = bf ? f32_to_bf16_bits(v0) : f32_to_f16_bits(v0);
    const uint32_t hi = bf ? f32_to_bf16_bits(v1) : f32_to_f16_bits(v1);
    *reinterpret_cast<uint32_t*>(d.c.ptr + co * 2) = lo | (hi << 16);
  }
}

}  // namespace porta::cuda
