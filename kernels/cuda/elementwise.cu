// Element-wise float ops (silu_mul, gelu, add, mul, scale) in f32. Dense operands take a
// linear index, four elements per thread with vector loads when aligned (bandwidth path);
// anything else (broadcast, strided views) walks rank-4 indices.
#include "launch.h"
#include "rows_common.cuh"

namespace porta::cuda {
namespace {

__device__ __forceinline__ float apply(int kind, float a, float b, float alpha) {
  switch (kind) {
    case kSiluMul: return silu(a) * b;
    case kGeluTanh: return gelu_tanh(a);
    case kGeluErf: return 0.5f * a * erfcf(-a * 0.7071067811865476f);
    case kAdd: return a + b;
    case kMul: return a * b;
    case kScale: return alpha * a;
    default: return a;
  }
}

__device__ __forceinline__ bool binary(int kind) { return kind == kSiluMul || kind == kAdd || kind == kMul; }

// Four consecutive elements starting at i (i % 4 == 0, pointer aligned for the vector).
__device__ __forceinline__ void load4(const char* p, int dt, int64_t i, float v[4]) {
  if (dt == kF32) {
    const float4 x = reinterpret_cast<const float4*>(p)[i / 4];
    v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
  } else {
    const uint2 x = reinterpret_cast<const uint2*>(p)[i / 4];
    const uint16_t h[4] = {uint16_t(x.x), uint16_t(x.x >> 16), uint16_t(x.y), uint16_t(x.y >> 16)};
    for (int j = 0; j < 4; ++j) v[j] = dt == kF16 ? f16_bits_to_f32(h[j]) : bf16_bits_to_f32(h[j]);
  }
}

__device__ __forceinline__ void store4(char* p, int dt, int64_t i, const float v[4]) {
  if (dt == kF32) {
    reinterpret_cast<float4*>(p)[i / 4] = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    uint16_t h[4];
    for (int j = 0; j < 4; ++j) h[j] = dt == kF16 ? f32_to_f16_bits(v[j]) : f32_to_bf16_bits(v[j]);
    reinterpret_cast<uint2*>(p)[i / 4] =
        make_uint2(uint32_t(h[0]) | uint32_t(h[1]) << 16, uint32_t(h[2]) | uint32_t(h[3]) << 16);
  }
}

__global__ void elementwise_vec4(ElementwiseDesc d) {
  const bool bin = binary(d.kind);
  const int64_t n4 = d.n / 4;
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < n4;
       q += int64_t(gridDim.x) * blockDim.x) {
    float a[4], b[4] = {0, 0, 0, 0}, o[4];
    load4(d.a.ptr, d.a.dtype, q * 4, a);
    if (bin) load4(d.b.ptr, d.b.dtype, q * 4, b);
    for (int j = 0; j < 4; ++j) o[j] = apply(d.kind, a[j], b[j], d.alpha);
    store4(d.out.ptr, d.out.dtype, q * 4, o);
  }
  // The tail (n % 4 elements) goes to the first threads.
  const int64_t i = n4 * 4 + blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < d.n) {
    const float a = load_f(d.a.ptr, d.a.dtype, i), b = bin ? load_f(d.b.ptr, d.b.dtype, i) : 0.0f;
    store_f(d.out.ptr, d.out.dtype, i, apply(d.kind, a, b, d.alpha));
  }
}

__global__ void elementwise_strided(ElementwiseDesc d) {
  const bool bin = binary(d.kind);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < d.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t oa = i, ob = i, oo = i;
    if (!d.dense) {
      oa = offset_of(d.a, d.out.shape, i);
      ob = bin ? offset_of(d.b, d.out.shape, i) : 0;
      oo = offset_of(d.out, d.out.shape, i);
    }
    const float a = load_f(d.a.ptr, d.a.dtype, oa), b = bin ? load_f(d.b.ptr, d.b.dtype, ob) : 0.0f;
    store_f(d.out.ptr, d.out.dtype, oo, apply(d.kind, a, b, d.alpha));
  }
}

}  // namespace

int launch_elementwise(const ElementwiseDesc& d, void* stream) {
  if (d.n == 0) return 0;
  constexpr int kThreads = 256;
  auto s = static_cast<pcStream_t>(stream);
  if (d.vec4)
    elementwise_vec4<<<grid_for(d.n / 4 + 1, kThreads), kThreads, 0, s>>>(d);
  else
    elementwise_strided<<<grid_for(d.n, kThreads), kThreads, 0, s>>>(d);
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- row vectors ----

// Rows of out's last dim (or one row of n for dense operands), 16-byte vectors along each
// row; each operand's row start comes from its own strides (0 strides broadcast), computed
// once per row per thread (one index split for all operands). threadIdx.y picks the row
// within the block; a thread handles about four vectors of each row (rows_plan.cpp).
// Vectors loaded together per thread (the plan gives about four a row: two rounds). Four
// made ptxas spill the f16 instance; two keep it at 63 registers.
constexpr int kVecRowsUnroll = 2;

template <int DT>
__global__ void __launch_bounds__(256) elementwise_rows(ElementwiseDesc d, VecRowsLaunch p) {
  constexpr int V = VecElem<DT>::kVec, kBytes = VecElem<DT>::kBytes;
  const bool bin = binary(d.kind);
  const int64_t vcols = p.cols / V;
  for (int64_t r = int64_t(blockIdx.y) * p.block_y + threadIdx.y; r < p.rows;
       r += int64_t(gridDim.y) * p.block_y) {
    const RowIndex ri = split_row(d.out.shape, r);
    const char* a = d.a.ptr + row_at(d.a, ri) * kBytes;
    const char* b = bin ? d.b.ptr + row_at(d.b, ri) * kBytes : nullptr;
    char* out = d.out.ptr + row_at(d.out, ri) * kBytes;
    // kVecRowsUnroll vectors per thread are loaded before any is stored, so their loads are
    // in flight together (the stores could alias them otherwise, serialising the loop).
    const int64_t stride = int64_t(gridDim.x) * p.block_x;
    for (int64_t q0 = int64_t(blockIdx.x) * p.block_x + threadIdx.x; q0 < vcols;
         q0 += stride * kVecRowsUnroll) {
      uint4 ra[kVecRowsUnroll], rb[kVecRowsUnroll];
#pragma unroll
      for (int u = 0; u < kVecRowsUnroll; ++u) {
        const int64_t q = q0 + u * stride;
        if (q >= vcols) continue;
        ra[u] = reinterpret_cast<const uint4*>(a)[q];
        if (bin) rb[u] = reinterpret_cast<const uint4*>(b)[q];
      }
#pragma unroll
      for (int u = 0; u < kVecRowsUnroll; ++u) {
        const int64_t q = q0 + u * stride;
        if (q >= vcols) continue;
        float x[V], y[V], o[V];
        const uint32_t wa[4] = {ra[u].x, ra[u].y, ra[u].z, ra[u].w};
        unpack_words<DT, 4>(wa, x);
        if (bin) {
          const uint32_t wb[4] = {rb[u].x, rb[u].y, rb[u].z, rb[u].w};
          unpack_words<DT, 4>(wb, y);
        }
#pragma unroll
        for (int e = 0; e < V; ++e) o[e] = apply(d.kind, x[e], bin ? y[e] : 0.0f, d.alpha);
        store_vec16<DT>(out, q * V, o);
      }
    }
  }
}

}  // namespace

int launch_elementwise_rows(const ElementwiseDesc& d, const VecRowsLaunch& p, void* stream) {
  if (p.rows == 0 || p.cols == 0) return 0;
  auto s = static_cast<pcStream_t>(stream);
  const dim3 grid(p.grid_x, p.grid_y), block(p.block_x, p.block_y);
  switch (d.out.dtype) {
    case kF32: elementwise_rows<kF32><<<grid, block, 0, s>>>(d, p); break;
    case kF16: elementwise_rows<kF16><<<grid, block, 0, s>>>(d, p); break;
    case kBF16: elementwise_rows<kBF16><<<grid, block, 0, s>>>(d, p); break;
    default: return static_cast<int>(pcErrorNotSupported);
  }
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
