// Device helpers shared by the kernels: dtype loads/stores through f32, rank-4 indexing,
// 32-lane group reductions. Only names from porta_cuda_runtime.h are used, so the
// portable kernels build with any CUDA-dialect toolchain.
#pragma once

#include <stdint.h>

#include "kernel_args.h"
#include "porta_cuda_runtime.h"

namespace porta::cuda {

constexpr int kGroup = 32;  // lanes per reduction group (a warp; half an AMD wavefront)

__device__ __forceinline__ float bf16_bits_to_f32(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }

// Round to nearest even; NaN stays a quiet NaN (same as porta::float_to_bf16).
__device__ __forceinline__ uint16_t f32_to_bf16_bits(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

__device__ __forceinline__ float f16_bits_to_f32(uint16_t h) {
  pc_half x;
  memcpy(&x, &h, 2);
  return __half2float(x);
}

__device__ __forceinline__ uint16_t f32_to_f16_bits(float f) {
  pc_half x = __float2half_rn(f);
  uint16_t h;
  memcpy(&h, &x, 2);
  return h;
}

/// Element `i` (in elements, may be strided) of a float-typed array as f32.
__device__ __forceinline__ float load_f(const char* p, int dt, int64_t i) {
  switch (dt) {
    case kF16: return f16_bits_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
    case kBF16: return bf16_bits_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
    case kI8: return float(reinterpret_cast<const int8_t*>(p)[i]);
    case kI32: return float(reinterpret_cast<const int32_t*>(p)[i]);
    default: return reinterpret_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void store_f(char* p, int dt, int64_t i, float v) {
  switch (dt) {
    case kF16: reinterpret_cast<uint16_t*>(p)[i] = f32_to_f16_bits(v); break;
    case kBF16: reinterpret_cast<uint16_t*>(p)[i] = f32_to_bf16_bits(v); break;
    default: reinterpret_cast<float*>(p)[i] = v; break;
  }
}

/// Offset in elements of logical element `i` (row-major over `shape`) in `t`.
__device__ __forceinline__ int64_t offset_of(const TDesc& t, const int64_t* shape, int64_t i) {
  const int64_t i3 = i % shape[3];
  i /= shape[3];
  const int64_t i2 = i % shape[2];
  i /= shape[2];
  const int64_t i1 = i % shape[1];
  const int64_t i0 = i / shape[1];
  return i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2] + i3 * t.strides[3];
}

/// Offset in `t` of row r (all dims but the last) counted over `shape` (the op's logical
/// shape; broadcast operands have 0 strides there).
__device__ __forceinline__ int64_t row_offset(const TDesc& t, const int64_t* shape, int64_t r) {
  const int64_t i2 = r % shape[2];
  r /= shape[2];
  const int64_t i1 = r % shape[1];
  const int64_t i0 = r / shape[1];
  return i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2];
}
__device__ __forceinline__ int64_t row_offset(const TDesc& t, int64_t r) { return row_offset(t, t.shape, r); }

__device__ __forceinline__ float group_sum(float v) {
  for (int m = kGroup / 2; m > 0; m >>= 1) v += pc_shfl_xor(v, m);
  return v;
}

// Max that keeps NaN: a NaN anywhere in a row poisons the row (softmax contract).
__device__ __forceinline__ float nan_max(float a, float b) { return (a > b || a != a) ? a : b; }

__device__ __forceinline__ float group_max(float v) {
  for (int m = kGroup / 2; m > 0; m >>= 1) v = nan_max(v, pc_shfl_xor(v, m));
  return v;
}

/// Block-wide sum for blockDim.x a multiple of 32 (<= 1024); `scratch` holds 32 floats.
/// Every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kGroup, g = threadIdx.x / kGroup, groups = blockDim.x / kGroup;
  v = group_sum(v);
  pc_syncthreads();
  if (lane == 0) scratch[g] = v;
  pc_syncthreads();
  v = lane < groups ? scratch[lane] : 0.0f;
  return group_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kGroup, g = threadIdx.x / kGroup, groups = blockDim.x / kGroup;
  v = group_max(v);
  pc_syncthreads();
  if (lane == 0) scratch[g] = v;
  pc_syncthreads();
  v = lane < groups ? scratch[lane] : -__int_as_float(0x7f800000);
  return group_max(v);
}

__device__ __forceinline__ float gelu_tanh(float x) {
  // 0.5x(1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3)
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return x / (1.0f + expf(-2.0f * u));
}
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

__device__ __forceinline__ float activate(int act, float v) {
  switch (act) {
    case kActRelu: return v > 0.0f ? v : 0.0f;
    case kActGelu: return gelu_tanh(v);
    case kActSilu: return silu(v);
    default: return v;
  }
}

/// Grid size for a grid-stride loop over n items with `threads` per block.
inline unsigned grid_for(int64_t n, int threads, int64_t cap = 65535LL * 8) {
  int64_t g = (n + threads - 1) / threads;
  if (g < 1) g = 1;
  return static_cast<unsigned>(g < cap ? g : cap);
}

}  // namespace porta::cuda
