// rms_norm and layer_norm over the last dim, statistics in f32 (layer_norm subtracts the
// mean before squaring: no cancellation). Two kernels:
// - norm_dense (rows_plan.h: unit-stride, 16-byte aligned rows): the row is read once with
//   16-byte vectors into registers, reduced over its threads (one 32-lane group, or the
//   block), normalised from registers and written with 16-byte vectors.
// - norm_kernel (any strides): one block per row, x re-read per pass (from L2).
// In place (out == x) is safe in both: each element is read before the same thread writes it.
#include "launch.h"
#include "rows_common.cuh"

namespace porta::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) norm_kernel(NormDesc d) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < d.rows; r += gridDim.x) {
    const char* x = d.x.ptr;
    const int64_t xo = row_offset(d.x, r), oo = row_offset(d.out, d.x.shape, r);
    const int64_t sx = d.x.strides[3], so = d.out.strides[3];
    float mean = 0.0f;
    if (d.layer) {
      float s = 0.0f;
      for (int64_t i = threadIdx.x; i < d.D; i += blockDim.x) s += load_f(x, d.x.dtype, xo + i * sx);
      mean = block_sum(s, scratch) / float(d.D);
    }
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < d.D; i += blockDim.x) {
      const float v = load_f(x, d.x.dtype, xo + i * sx) - mean;
      ss += v * v;
    }
    // 1/sqrt, both correctly rounded (rsqrtf is ~2 ulp).
    const float inv = 1.0f / sqrtf(block_sum(ss, scratch) / float(d.D) + d.eps);
    for (int64_t i = threadIdx.x; i < d.D; i += blockDim.x) {
      float v = (load_f(x, d.x.dtype, xo + i * sx) - mean) * inv *
                load_f(d.weight.ptr, d.weight.dtype, i * d.weight.strides[3]);
      if (d.bias.ptr) v += load_f(d.bias.ptr, d.bias.dtype, i * d.bias.strides[3]);
      store_f(d.out.ptr, d.out.dtype, oo + i * so, v);
    }
    pc_syncthreads();  // scratch is reused by the next row
  }
}

}  // namespace

int launch_norm(const NormDesc& d, void* stream) {
  if (d.rows == 0 || d.D == 0) return 0;
  const unsigned grid = static_cast<unsigned>(d.rows < 65535 * 16 ? d.rows : 65535 * 16);
  norm_kernel<<<grid, kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- dense fast path ----

// Thread `sub` of a row owns vectors sub, sub + tpr, ... (K of them): consecutive threads
// touch consecutive 16-byte vectors, so each warp-wide access is fully coalesced.
// One block per SM is the minimum asked of ptxas: its default capped the f32 one-vector variant
// at 32 registers and spilled on sm_90a (it takes 44).
template <int DT, int K>
__global__ void __launch_bounds__(rows_max_threads(DT, K), 1) norm_dense(NormDesc d, RowsLaunch p) {
  constexpr int V = VecElem<DT>::kVec;
  __shared__ float scratch[32];
  const int tpr = p.threads_per_row;
  const int sub = int(threadIdx.x) % tpr, slot = int(threadIdx.x) / tpr;
  const int64_t nvec = d.D / V;
  for (int64_t r0 = int64_t(blockIdx.x) * p.rows_per_block; r0 < d.rows;
       r0 += int64_t(gridDim.x) * p.rows_per_block) {
    const int64_t r = r0 + slot;
    // Only group-per-row blocks can have a slot past the end, and they use no block barrier.
    if (r >= d.rows) continue;
    const RowIndex ri = split_row(d.x.shape, r);  // one index split for x and out
    const char* x = d.x.ptr + row_at(d.x, ri) * VecElem<DT>::kBytes;
    char* out = d.out.ptr + row_at(d.out, ri) * VecElem<DT>::kBytes;
    float v[K][V];
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t q = sub + int64_t(k) * tpr;
      if (q < nvec) {
        load_vec16<DT>(x, q * V, v[k]);
      } else {
#pragma unroll
        for (int e = 0; e < V; ++e) v[k][e] = 0.0f;
      }
#pragma unroll
      for (int e = 0; e < V; ++e) s += v[k][e];
    }
    float mean = 0.0f;
    if (d.layer) mean = row_sum(s, tpr, scratch) / float(d.D);  // as the strided kernel rounds it
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (sub + int64_t(k) * tpr >= nvec) continue;  // padding must not add mean^2 terms
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const float c = v[k][e] - mean;
        ss += c * c;
      }
    }
    // Same expression as the strided kernel: division by D, then 1/sqrt, both rounded once.
    const float inv = 1.0f / sqrtf(row_sum(ss, tpr, scratch) / float(d.D) + d.eps);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t q = sub + int64_t(k) * tpr;
      if (q >= nvec) continue;
      float w[V], b[V];
      load_vec_any<V>(d.weight.ptr, d.weight.dtype, q * V, w);
      if (d.bias.ptr) load_vec_any<V>(d.bias.ptr, d.bias.dtype, q * V, b);
      float o[V];
#pragma unroll
      for (int e = 0; e < V; ++e) {
        o[e] = (v[k][e] - mean) * inv * w[e];
        if (d.bias.ptr) o[e] += b[e];
      }
      store_vec16<DT>(out, q * V, o);
    }
  }
}

template <int DT>
int launch_norm_dt(const NormDesc& d, const RowsLaunch& p, pcStream_t s) {
  const dim3 grid(p.grid), block(p.threads_per_row * p.rows_per_block);
  switch (p.vecs_per_thread) {
    case 1: norm_dense<DT, 1><<<grid, block, 0, s>>>(d, p); break;
    case 2: norm_dense<DT, 2><<<grid, block, 0, s>>>(d, p); break;
    case 4: norm_dense<DT, 4><<<grid, block, 0, s>>>(d, p); break;
    case 8:
      // 8 vectors of 8 halves would be 64 floats per thread: the planner never asks.
      if constexpr (VecElem<DT>::kVec == 4) {
        norm_dense<DT, 8><<<grid, block, 0, s>>>(d, p);
        break;
      }
      return static_cast<int>(pcErrorNotSupported);
    default: return static_cast<int>(pcErrorNotSupported);
  }
  return static_cast<int>(pcGetLastError());
}

}  // namespace

int launch_norm_dense(const NormDesc& d, const RowsLaunch& p, void* stream) {
  if (d.rows == 0 || d.D == 0) return 0;
  auto s = static_cast<pcStream_t>(stream);
  switch (d.x.dtype) {
    case kF32: return launch_norm_dt<kF32>(d, p, s);
    case kF16: return launch_norm_dt<kF16>(d, p, s);
    case kBF16: return launch_norm_dt<kBF16>(d, p, s);
    default: return static_cast<int>(pcErrorNotSupported);
  }
}

}  // namespace porta::cuda
