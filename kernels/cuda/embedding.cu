// embedding: out[n, :] = table[ids[n], :]; an id outside [0, V) gives a zero row (porta/ops.h's
// reference, the cpu and vulkan backends; ids live on the device and are never trusted, and a
// clamp read row V - 1 = -1 of an empty table). Same dtypes copy raw bits; others convert
// through f32. embedding_rows (rows_plan.h: aligned unit-stride rows) moves 16-byte
// vectors, several output rows per block; embedding_kernel (any strides) one block per row.
#include "device_common.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

__global__ void embedding_kernel(EmbeddingDesc d) {
  const int64_t V = d.table.shape[2], D = d.table.shape[3], N = d.ids.shape[3];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const int64_t id = reinterpret_cast<const int32_t*>(d.ids.ptr)[n * d.ids.strides[3]];
    const bool zero = id < 0 || id >= V;  // outside the table: a zero row
    const int64_t to = zero ? 0 : id * d.table.strides[2], oo = n * d.out.strides[2];
    const int64_t st = d.table.strides[3], so = d.out.strides[3];
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
      if (d.table.dtype == d.out.dtype) {
        if (d.out.dtype == kI8)
          reinterpret_cast<int8_t*>(d.out.ptr)[oo + i * so] =
              zero ? int8_t(0) : reinterpret_cast<const int8_t*>(d.table.ptr)[to + i * st];
        else if (d.out.dtype == kF16 || d.out.dtype == kBF16)
          reinterpret_cast<uint16_t*>(d.out.ptr)[oo + i * so] =
              zero ? uint16_t(0) : reinterpret_cast<const uint16_t*>(d.table.ptr)[to + i * st];
        else
          reinterpret_cast<uint32_t*>(d.out.ptr)[oo + i * so] =
              zero ? 0u : reinterpret_cast<const uint32_t*>(d.table.ptr)[to + i * st];
      } else {
        store_f(d.out.ptr, d.out.dtype, oo + i * so,
                zero ? 0.0f : load_f(d.table.ptr, d.table.dtype, to + i * st));
      }
    }
  }
}

}  // namespace

int launch_embedding(const EmbeddingDesc& d, void* stream) {
  const int64_t N = d.ids.shape[3];
  if (N == 0 || d.table.shape[3] == 0) return 0;
  const unsigned grid = static_cast<unsigned>(N < 65535 * 16 ? N : 65535 * 16);
  embedding_kernel<<<grid, 128, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- row vectors ----

// Gathered rows moved as raw 16-byte vectors (table and out rows unit-stride and 16-byte
// aligned, same dtype: rows_plan.h). threadIdx.y picks the output row within the block.
__global__ void __launch_bounds__(256) embedding_rows(EmbeddingDesc d, VecRowsLaunch p) {
  const int64_t V = d.table.shape[2];
  const int es = d.out.dtype == kF32 || d.out.dtype == kI32 ? 4 : d.out.dtype == kI8 ? 1 : 2;
  const int64_t vcols = p.cols * es / 16;
  for (int64_t n = int64_t(blockIdx.y) * p.block_y + threadIdx.y; n < p.rows;
       n += int64_t(gridDim.y) * p.block_y) {
    const int64_t id = reinterpret_cast<const int32_t*>(d.ids.ptr)[n * d.ids.strides[3]];
    const bool zero = id < 0 || id >= V;  // outside the table: a zero row
    const uint4* src =
        reinterpret_cast<const uint4*>(d.table.ptr + (zero ? 0 : id) * d.table.strides[2] * es);
    uint4* dst = reinterpret_cast<uint4*>(d.out.ptr + n * d.out.strides[2] * es);
    // Four vectors per thread loaded before any store (rows_plan.cpp vec_rows_shape).
    const int64_t stride = int64_t(gridDim.x) * p.block_x;
    for (int64_t q0 = int64_t(blockIdx.x) * p.block_x + threadIdx.x; q0 < vcols; q0 += 4 * stride) {
      uint4 v[4];
#pragma unroll
      for (int u = 0; u < 4; ++u)
        if (q0 + u * stride < vcols) v[u] = zero ? make_uint4(0, 0, 0, 0) : src[q0 + u * stride];
#pragma unroll
      for (int u = 0; u < 4; ++u)
        if (q0 + u * stride < vcols) dst[q0 + u * stride] = v[u];
    }
  }
}

}  // namespace

int launch_embedding_rows(const EmbeddingDesc& d, const VecRowsLaunch& p, void* stream) {
  if (p.rows == 0 || p.cols == 0) return 0;
  embedding_rows<<<dim3(p.grid_x, p.grid_y), dim3(p.block_x, p.block_y), 0,
                   static_cast<pcStream_t>(stream)>>>(d, p);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
