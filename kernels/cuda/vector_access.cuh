// 16-byte vector loads and stores of float-typed data, converted to and from f32 in
// registers. The dense fast paths (rows_plan.h decides when they apply) move every tensor
// row as 16-byte vectors: 4 f32 or 8 f16/bf16 elements per access, the widest access every
// CUDA-dialect GPU coalesces. Only names of porta_cuda_runtime.h are used (hip builds it).
#pragma once

#include <stdint.h>

#include "device_common.cuh"

namespace porta::cuda {

/// Element traits of a float dtype for the vector paths: kVec elements per 16 bytes.
template <int DT>
struct VecElem;
template <>
struct VecElem<kF32> {
  static constexpr int kBytes = 4, kVec = 4;
};
template <>
struct VecElem<kF16> {
  static constexpr int kBytes = 2, kVec = 8;
};
template <>
struct VecElem<kBF16> {
  static constexpr int kBytes = 2, kVec = 8;
};
template <>
struct VecElem<kI32> {  // sizes only (argmax): load_vec16/store_vec16 take float dtypes
  static constexpr int kBytes = 4, kVec = 4;
};

__device__ __forceinline__ float half_bits_to_f32(int dt, uint32_t h) {
  return dt == kF16 ? f16_bits_to_f32(uint16_t(h)) : bf16_bits_to_f32(uint16_t(h));
}
__device__ __forceinline__ uint32_t f32_to_half_bits(int dt, float f) {
  return dt == kF16 ? f32_to_f16_bits(f) : f32_to_bf16_bits(f);
}

// Unpacks 32-bit words into f32: one f32 per word, or two 16-bit elements per word with the
// lower-addressed element in the low half (little-endian, as every supported GPU is).
template <int DT, int W>
__device__ __forceinline__ void unpack_words(const uint32_t (&w)[W], float* v) {
  static_assert(DT == kF32 || DT == kF16 || DT == kBF16, "float dtypes only");
  if constexpr (DT == kF32) {
    for (int i = 0; i < W; ++i) v[i] = __uint_as_float(w[i]);
  } else {
    for (int i = 0; i < W; ++i) {
      v[2 * i] = half_bits_to_f32(DT, w[i] & 0xffffu);
      v[2 * i + 1] = half_bits_to_f32(DT, w[i] >> 16);
    }
  }
}

template <int DT, int W>
__device__ __forceinline__ void pack_words(const float* v, uint32_t (&w)[W]) {
  static_assert(DT == kF32 || DT == kF16 || DT == kBF16, "float dtypes only");
  if constexpr (DT == kF32) {
    for (int i = 0; i < W; ++i) w[i] = __float_as_uint(v[i]);
  } else {
    for (int i = 0; i < W; ++i)
      w[i] = f32_to_half_bits(DT, v[2 * i]) | f32_to_half_bits(DT, v[2 * i + 1]) << 16;
  }
}

/// Loads elements [i, i + kVec) of `p` (dtype DT) with one 16-byte access. The caller
/// guarantees p + i * kBytes is 16-byte aligned.
template <int DT>
__device__ __forceinline__ void load_vec16(const char* p, int64_t i, float (&v)[VecElem<DT>::kVec]) {
  const uint4 q = *reinterpret_cast<const uint4*>(p + i * VecElem<DT>::kBytes);
  const uint32_t w[4] = {q.x, q.y, q.z, q.w};
  unpack_words<DT, 4>(w, v);
}

/// Stores elements [i, i + kVec) of `p` (dtype DT), rounding each once, with one 16-byte access.
template <int DT>
__device__ __forceinline__ void store_vec16(char* p, int64_t i, const float (&v)[VecElem<DT>::kVec]) {
  uint32_t w[4];
  pack_words<DT, 4>(v, w);
  *reinterpret_cast<uint4*>(p + i * VecElem<DT>::kBytes) = make_uint4(w[0], w[1], w[2], w[3]);
}

/// Loads N (4 or 8) consecutive elements [i, i + N) of a float array whose dtype is only known
/// at run time (weights, biases, masks, which may differ from x's dtype): 8-, 16- or two
/// 16-byte accesses. The caller guarantees the start is aligned to min(16, N * size) bytes.
template <int N>
__device__ __forceinline__ void load_vec_any(const char* p, int dt, int64_t i, float (&v)[N]) {
  static_assert(N == 4 || N == 8, "4 or 8 elements");
  if (dt == kF32) {
    for (int c = 0; c < N / 4; ++c) {
      const uint4 q = *reinterpret_cast<const uint4*>(p + (i + 4 * c) * 4);
      const uint32_t w[4] = {q.x, q.y, q.z, q.w};
      unpack_words<kF32, 4>(w, v + 4 * c);
    }
  } else if (N == 8) {
    const uint4 q = *reinterpret_cast<const uint4*>(p + i * 2);
    const uint32_t w[4] = {q.x, q.y, q.z, q.w};
    if (dt == kF16)
      unpack_words<kF16, 4>(w, v);
    else
      unpack_words<kBF16, 4>(w, v);
  } else {
    const uint2 q = *reinterpret_cast<const uint2*>(p + i * 2);
    const uint32_t w[2] = {q.x, q.y};
    if (dt == kF16)
      unpack_words<kF16, 2>(w, v);
    else
      unpack_words<kBF16, 2>(w, v);
  }
}

}  // namespace porta::cuda
