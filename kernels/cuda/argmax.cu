// argmax over the last dim: first index of the maximum, a NaN counts as larger than any
// number (the first NaN wins). Values compare as double, exact for every dtype including
// i32. (value, index) pairs merge under a strict total order (better()), so any merge
// order gives the same answer. Kernels:
// - argmax_chunks + argmax_combine (rows_plan.h plan_argmax): each row is cut into chunks
//   so that few long rows (vocab 128K-256K, 1..64 rows) still fill the GPU; a block reduces
//   one chunk (16-byte loads on unit-stride aligned rows), writing the result directly when
//   a row is one chunk, else a partial that argmax_combine merges. No atomics.
// - argmax_kernel: the original one block per row (kept; no longer launched by the host).
#include "launch.h"
#include "vector_access.cuh"

namespace porta::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ double load_d(const char* p, int dt, int64_t i) {
  if (dt == kI32) return double(reinterpret_cast<const int32_t*>(p)[i]);
  return double(load_f(p, dt, i));
}

// Whether (v, i) beats (bv, bi): NaN first, then larger, then lower index.
__device__ __forceinline__ bool better(double v, int64_t i, double bv, int64_t bi) {
  const bool vn = v != v, bn = bv != bv;
  if (vn || bn) return vn && (!bn || i < bi);
  return v > bv || (v == bv && i < bi);
}

__global__ void __launch_bounds__(kThreads) argmax_kernel(ArgmaxDesc d) {
  __shared__ double sv[kThreads];
  __shared__ int64_t si[kThreads];
  const int64_t R = d.x.shape[2], C = d.x.shape[3];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const int64_t xo = r * d.x.strides[2];
    double bv = 0;
    int64_t bi = -1;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const double v = load_d(d.x.ptr, d.x.dtype, xo + c * d.x.strides[3]);
      if (bi < 0 || better(v, c, bv, bi)) bv = v, bi = c;
    }
    sv[threadIdx.x] = bv;
    si[threadIdx.x] = bi;
    pc_syncthreads();
    for (int w = kThreads / 2; w > 0; w >>= 1) {
      if (int(threadIdx.x) < w) {
        const int64_t oi = si[threadIdx.x + w];
        if (oi >= 0 &&
            (si[threadIdx.x] < 0 || better(sv[threadIdx.x + w], oi, sv[threadIdx.x], si[threadIdx.x]))) {
          sv[threadIdx.x] = sv[threadIdx.x + w];
          si[threadIdx.x] = oi;
        }
      }
      pc_syncthreads();
    }
    if (threadIdx.x == 0)
      reinterpret_cast<int32_t*>(d.out.ptr)[r * d.out.strides[3]] = int32_t(si[0] < 0 ? 0 : si[0]);
    pc_syncthreads();
  }
}

}  // namespace

int launch_argmax(const ArgmaxDesc& d, void* stream) {
  const int64_t R = d.x.shape[2];
  if (R == 0) return 0;
  const unsigned grid = static_cast<unsigned>(R < 65535 * 16 ? R : 65535 * 16);
  argmax_kernel<<<grid, kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- chunked path ----

constexpr int kChunkThreads = 256;
constexpr int kRuntimeDtype = -1;  // strided loads through load_d, any dtype

// (v, i) replaces the running best (bv, bi) when that is empty (bi < 0) or v is better.
__device__ __forceinline__ void take_better(double& bv, int64_t& bi, double v, int64_t i) {
  if (i >= 0 && (bi < 0 || better(v, i, bv, bi))) bv = v, bi = i;
}

// Butterfly over a 32-lane group: both partners merge each other's best, so every lane
// ends with the group's best (the order is total, so the merge is symmetric).
__device__ __forceinline__ void group_best(double& bv, int64_t& bi) {
  for (int m = kGroup / 2; m > 0; m >>= 1) {
    const double ov = pc_shfl_xor(bv, m);
    const int64_t oi = pc_shfl_xor(bi, m);
    take_better(bv, bi, ov, oi);
  }
}

// Block-wide best; thread 0 gets the result. sv/si hold one entry per 32-lane group.
__device__ __forceinline__ void block_best(double& bv, int64_t& bi, double* sv, int64_t* si) {
  const int lane = threadIdx.x % kGroup, g = threadIdx.x / kGroup, groups = blockDim.x / kGroup;
  group_best(bv, bi);
  pc_syncthreads();  // the previous row's readers are done with sv/si
  if (lane == 0) sv[g] = bv, si[g] = bi;
  pc_syncthreads();
  if (g == 0) {
    bv = lane < groups ? sv[lane] : 0.0;
    bi = lane < groups ? si[lane] : -1;
    group_best(bv, bi);
  }
}

// 16-byte vector of elements [c, c + n) of a unit-stride row, as doubles (exact).
template <int DT>
__device__ __forceinline__ void load_vals(const char* row, int64_t c, double* out) {
  if constexpr (DT == kI32) {
    const int4 q = *reinterpret_cast<const int4*>(row + c * 4);
    out[0] = q.x, out[1] = q.y, out[2] = q.z, out[3] = q.w;
  } else {
    float v[VecElem<DT>::kVec];
    load_vec16<DT>(row, c, v);
    for (int e = 0; e < VecElem<DT>::kVec; ++e) out[e] = v[e];
  }
}

template <int DT>
__global__ void __launch_bounds__(kChunkThreads) argmax_chunks(ArgmaxDesc d, ArgmaxSplit p) {
  __shared__ double sv[32];
  __shared__ int64_t si[32];
  const int64_t R = d.x.shape[2], C = d.x.shape[3];
  const int64_t c0 = int64_t(blockIdx.x) * p.chunk_cols;
  const int64_t c1 = c0 + p.chunk_cols < C ? c0 + p.chunk_cols : C;
  for (int64_t r = blockIdx.y; r < R; r += gridDim.y) {
    double bv = 0;
    int64_t bi = -1;
    if constexpr (DT == kRuntimeDtype) {
      const int64_t xo = r * d.x.strides[2];
      for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x)
        take_better(bv, bi, load_d(d.x.ptr, d.x.dtype, xo + c * d.x.strides[3]), c);
    } else {
      // The planner checked C % V == 0, unit stride and 16-byte aligned rows. U vectors are
      // loaded before any is compared, so each thread keeps U 16-byte loads in flight; the
      // visiting order does not matter (better() is a total order with the index).
      constexpr int V = VecElem<DT>::kVec, kBytes = VecElem<DT>::kBytes, U = 4;
      const char* row = d.x.ptr + r * d.x.strides[2] * kBytes;
      const int64_t step = int64_t(blockDim.x) * V;
      for (int64_t base = c0 + int64_t(threadIdx.x) * V; base < c1; base += step * U) {
        double v[U][V];
#pragma unroll
        for (int u = 0; u < U; ++u)
          if (base + u * step < c1) load_vals<DT>(row, base + u * step, v[u]);
#pragma unroll
        for (int u = 0; u < U; ++u)
          if (base + u * step < c1)
#pragma unroll
            for (int e = 0; e < V; ++e) take_better(bv, bi, v[u][e], base + u * step + e);
      }
    }
    block_best(bv, bi, sv, si);
    if (threadIdx.x == 0) {
      if (p.chunks == 1) {
        reinterpret_cast<int32_t*>(d.out.ptr)[r * d.out.strides[3]] = int32_t(bi < 0 ? 0 : bi);
      } else {
        p.part_val[r * p.chunks + blockIdx.x] = bv;
        p.part_idx[r * p.chunks + blockIdx.x] = bi;
      }
    }
  }
}

// One 32-lane group per row merges the row's chunk partials.
__global__ void __launch_bounds__(kChunkThreads) argmax_combine(ArgmaxDesc d, ArgmaxSplit p) {
  const int64_t R = d.x.shape[2];
  const int lane = threadIdx.x % kGroup, groups = blockDim.x / kGroup;
  // The loop bound is per group; groups never meet at a barrier here.
  for (int64_t r = int64_t(blockIdx.x) * groups + threadIdx.x / kGroup; r < R;
       r += int64_t(gridDim.x) * groups) {
    double bv = 0;
    int64_t bi = -1;
    for (int c = lane; c < p.chunks; c += kGroup)
      take_better(bv, bi, p.part_val[r * p.chunks + c], p.part_idx[r * p.chunks + c]);
    group_best(bv, bi);
    if (lane == 0) reinterpret_cast<int32_t*>(d.out.ptr)[r * d.out.strides[3]] = int32_t(bi < 0 ? 0 : bi);
  }
}

}  // namespace

int launch_argmax_split(const ArgmaxDesc& d, const ArgmaxSplit& p, void* stream) {
  const int64_t R = d.x.shape[2];
  if (R == 0) return 0;
  if (p.threads != kChunkThreads || p.chunks < 1) return static_cast<int>(pcErrorNotSupported);
  auto s = static_cast<pcStream_t>(stream);
  const dim3 grid(p.chunks, p.grid_y), block(kChunkThreads);
  switch (p.vec ? d.x.dtype : kRuntimeDtype) {
    case kF32: argmax_chunks<kF32><<<grid, block, 0, s>>>(d, p); break;
    case kF16: argmax_chunks<kF16><<<grid, block, 0, s>>>(d, p); break;
    case kBF16: argmax_chunks<kBF16><<<grid, block, 0, s>>>(d, p); break;
    case kI32: argmax_chunks<kI32><<<grid, block, 0, s>>>(d, p); break;
    default: argmax_chunks<kRuntimeDtype><<<grid, block, 0, s>>>(d, p); break;
  }
  if (p.chunks > 1) {
    const int64_t rows_per_block = kChunkThreads / kGroup;
    const int64_t blocks = (R + rows_per_block - 1) / rows_per_block;
    argmax_combine<<<grid_for(blocks, 1, 65535), kChunkThreads, 0, s>>>(d, p);
  }
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
