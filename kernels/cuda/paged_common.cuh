// Device helpers of the paged (serving) kernels: device-resident index reads, cache element
// sizes, fp8 e4m3fn decoding and 8-element cache row loads dequantised to f32.
#pragma once

#include <stdint.h>

#include "device_common.cuh"
#include "paged_args.h"

namespace porta::cuda {

/// Element i of an i32 or i64 index tensor.
__device__ __forceinline__ int64_t paged_index(const char* p, bool i64, int64_t i) {
  return i64 ? reinterpret_cast<const int64_t*>(p)[i] : int64_t(reinterpret_cast<const int32_t*>(p)[i]);
}

__host__ __device__ constexpr int paged_elem_bytes(int kind) {
  return kind == kPagedF32 ? 4 : kind <= kPagedBF16 ? 2 : 1;
}

/// fp8 e4m3fn bits as f32 (subnormals exact, S.1111.111 NaN).
__device__ __forceinline__ float e4m3_to_f32(uint32_t u) {
  const uint32_t e = (u >> 3) & 15u, m = u & 7u;
  float v = e == 0 ? float(m) * 0.001953125f : __uint_as_float(((e + 120u) << 23) | (m << 20));
  if ((u & 0x7fu) == 0x7fu) v = __uint_as_float(0x7fc00000u);
  return (u & 0x80u) ? -v : v;
}

template <int kKind>
__device__ __forceinline__ float paged_elem(const char* p, int i) {
  if (kKind == kPagedF32) return reinterpret_cast<const float*>(p)[i];
  if (kKind == kPagedF16) return f16_bits_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
  if (kKind == kPagedBF16) return bf16_bits_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
  if (kKind == kPagedInt8) return float(reinterpret_cast<const int8_t*>(p)[i]);
  return e4m3_to_f32(reinterpret_cast<const uint8_t*>(p)[i]);
}

__device__ __forceinline__ void unpack_bytes(uint32_t w, bool fp8, float* v) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t b = (w >> (8 * i)) & 0xffu;
    v[i] = fp8 ? e4m3_to_f32(b) : float(int8_t(b));
  }
}

/// Elements [e, e + 8) of a cache row (`row` points at its element 0) as f32 (codes not yet
/// scaled). vec: 16-byte aligned rows, so f32 takes two 16-byte loads, f16/bf16 one, and
/// 8-bit codes one 8-byte load; else element loads.
template <int kKind>
__device__ __forceinline__ void paged_load8(const char* row, int e, bool vec, float (&v)[8]) {
  constexpr int es = paged_elem_bytes(kKind);
  const char* p = row + e * es;
  if (!vec) {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = paged_elem<kKind>(p, i);
    return;
  }
  if (kKind == kPagedF32) {
    const uint4 a = reinterpret_cast<const uint4*>(p)[0], b = reinterpret_cast<const uint4*>(p)[1];
    v[0] = __uint_as_float(a.x), v[1] = __uint_as_float(a.y), v[2] = __uint_as_float(a.z);
    v[3] = __uint_as_float(a.w), v[4] = __uint_as_float(b.x), v[5] = __uint_as_float(b.y);
    v[6] = __uint_as_float(b.z), v[7] = __uint_as_float(b.w);
  } else if (kKind == kPagedF16 || kKind == kPagedBF16) {
    const uint4 a = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if (kKind == kPagedBF16) {
        v[2 * i] = __uint_as_float(w[i] << 16);
        v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
      } else {
        v[2 * i] = f16_bits_to_f32(uint16_t(w[i]));
        v[2 * i + 1] = f16_bits_to_f32(uint16_t(w[i] >> 16));
      }
    }
  } else {
    const uint2 a = *reinterpret_cast<const uint2*>(p);
    unpack_bytes(a.x, kKind == kPagedFp8, v);
    unpack_bytes(a.y, kKind == kPagedFp8, v + 4);
  }
}

// Device values of paged_attention, clamped as porta/serving.h states (and paged_attention.cl does).
__device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
__device__ __forceinline__ int idx32(const char* p, int64_t i) {
  return reinterpret_cast<const int32_t*>(p)[i];
}

struct SeqBounds {
  int c0, qlen, len;  // first query row, query count, KV length (all clamped)
};

__device__ __forceinline__ SeqBounds seq_bounds(const PagedAttnDesc& d, int64_t b, int max_k) {
  const int T = int(d.T);
  const int a0 = clampi(idx32(d.cu, b * d.cu_st), 0, T), a1 = clampi(idx32(d.cu, (b + 1) * d.cu_st), 0, T);
  return {a0, clampi(a1 - a0, 0, d.max_q), clampi(idx32(d.lens, b * d.lens_st), 0, max_k)};
}

/// The block-table-visible key range [lo, hi) of query i of a sequence with qlen queries and len
/// keys: position p = len - qlen + i; causal: keys <= p; window W: keys > p - W.
__device__ __forceinline__ void paged_key_range(const PagedAttnDesc& d, int len, int qlen, int i, int& lo,
                                                int& hi) {
  const int p = len - qlen + i;
  hi = d.causal ? clampi(p + 1, 0, len) : len;
  // In 64 bits: p may be negative (more queries than keys) and the window up to 2^31 - 1.
  const int64_t w0 = int64_t(p) - d.window + 1;
  lo = d.window <= 0 ? 0 : w0 < 0 ? 0 : w0 > len ? len : int(w0);
}

}  // namespace porta::cuda
