// softmax(scale*x + mask) over the last dim: max, sum of exp, write. A row with no finite
// input (all -inf after masking) gives zeros; a NaN anywhere gives a NaN row. Two kernels:
// - softmax_dense (rows_plan.h: unit-stride, 16-byte aligned rows): logits read once with
//   16-byte vectors and kept in registers (then their exponentials), reduced over the row's
//   threads (one 32-lane group, or the block), written with 16-byte vectors.
// - softmax_kernel (any strides): one block per row, x re-read in each pass (from L2).
// out may alias x in both: every element is read before the same thread writes it.
#include "launch.h"
#include "rows_common.cuh"

namespace porta::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float logit(const SoftmaxDesc& d, int64_t xo, int64_t mo, int64_t i) {
  float v = d.scale * load_f(d.x.ptr, d.x.dtype, xo + i * d.x.strides[3]);
  if (d.mask.ptr) v += load_f(d.mask.ptr, d.mask.dtype, mo + i * d.mask.strides[3]);
  return v;
}

__global__ void __launch_bounds__(kThreads) softmax_kernel(SoftmaxDesc d) {
  __shared__ float scratch[32];
  const float neg_inf = -__int_as_float(0x7f800000);
  for (int64_t r = blockIdx.x; r < d.rows; r += gridDim.x) {
    const int64_t xo = row_offset(d.x, r), oo = row_offset(d.out, d.x.shape, r);
    const int64_t mo = d.mask.ptr ? row_offset(d.mask, d.x.shape, r) : 0;
    float mx = neg_inf;
    for (int64_t i = threadIdx.x; i < d.D; i += blockDim.x) mx = nan_max(mx, logit(d, xo, mo, i));
    mx = block_max(mx, scratch);
    float sum = 0.0f;
    if (mx != neg_inf)
      for (int64_t i = threadIdx.x; i < d.D; i += blockDim.x) sum += expf(logit(d, xo, mo, i) - mx);
    sum = block_sum(sum, scratch);
    const float inv = 1.0f / sum;
    for (int64_t i = threadIdx.x; i < d.D; i += blockDim.x) {
      const float p = mx == neg_inf ? 0.0f : expf(logit(d, xo, mo, i) - mx) * inv;
      store_f(d.out.ptr, d.out.dtype, oo + i * d.out.strides[3], p);
    }
    pc_syncthreads();
  }
}

}  // namespace

int launch_softmax(const SoftmaxDesc& d, void* stream) {
  if (d.rows == 0 || d.D == 0) return 0;
  const unsigned grid = static_cast<unsigned>(d.rows < 65535 * 16 ? d.rows : 65535 * 16);
  softmax_kernel<<<grid, kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- dense fast path ----

template <int DT, int K>
__global__ void __launch_bounds__(rows_max_threads(DT, K)) softmax_dense(SoftmaxDesc d, RowsLaunch p) {
  constexpr int V = VecElem<DT>::kVec;
  __shared__ float scratch[32];
  const float neg_inf = -__int_as_float(0x7f800000);
  const int tpr = p.threads_per_row;
  const int sub = int(threadIdx.x) % tpr, slot = int(threadIdx.x) / tpr;
  const int64_t nvec = d.D / V;
  for (int64_t r0 = int64_t(blockIdx.x) * p.rows_per_block; r0 < d.rows;
       r0 += int64_t(gridDim.x) * p.rows_per_block) {
    const int64_t r = r0 + slot;
    if (r >= d.rows) continue;                    // only in group-per-row blocks, which have no block barrier
    const RowIndex ri = split_row(d.x.shape, r);  // one index split for x, out and the mask
    const char* x = d.x.ptr + row_at(d.x, ri) * VecElem<DT>::kBytes;
    char* out = d.out.ptr + row_at(d.out, ri) * VecElem<DT>::kBytes;
    const int64_t mo = d.mask.ptr ? row_at(d.mask, ri) : 0;
    float v[K][V];
    float mx = neg_inf;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t q = sub + int64_t(k) * tpr;
      if (q >= nvec) continue;
      load_vec16<DT>(x, q * V, v[k]);
      float m[V];
      if (d.mask.ptr) load_vec_any<V>(d.mask.ptr, d.mask.dtype, mo + q * V, m);
#pragma unroll
      for (int e = 0; e < V; ++e) {
        v[k][e] *= d.scale;  // same rounding steps as the strided kernel: scale*x, then + mask
        if (d.mask.ptr) v[k][e] += m[e];
        mx = nan_max(mx, v[k][e]);
      }
    }
    mx = row_max(mx, tpr, scratch);
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (sub + int64_t(k) * tpr >= nvec) continue;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        v[k][e] = mx == neg_inf ? 0.0f : expf(v[k][e] - mx);
        sum += v[k][e];
      }
    }
    const float inv = 1.0f / row_sum(sum, tpr, scratch);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t q = sub + int64_t(k) * tpr;
      if (q >= nvec) continue;
      float o[V];
#pragma unroll
      for (int e = 0; e < V; ++e) o[e] = mx == neg_inf ? 0.0f : v[k][e] * inv;
      store_vec16<DT>(out, q * V, o);
    }
  }
}

template <int DT>
int launch_softmax_dt(const SoftmaxDesc& d, const RowsLaunch& p, pcStream_t s) {
  const dim3 grid(p.grid), block(p.threads_per_row * p.rows_per_block);
  switch (p.vecs_per_thread) {
    case 1: softmax_dense<DT, 1><<<grid, block, 0, s>>>(d, p); break;
    case 2: softmax_dense<DT, 2><<<grid, block, 0, s>>>(d, p); break;
    case 4: softmax_dense<DT, 4><<<grid, block, 0, s>>>(d, p); break;
    case 8:
      if constexpr (VecElem<DT>::kVec == 4) {  // 64 floats for 16-bit types: never planned
        softmax_dense<DT, 8><<<grid, block, 0, s>>>(d, p);
        break;
      }
      return static_cast<int>(pcErrorNotSupported);
    default: return static_cast<int>(pcErrorNotSupported);
  }
  return static_cast<int>(pcGetLastError());
}

}  // namespace

int launch_softmax_dense(const SoftmaxDesc& d, const RowsLaunch& p, void* stream) {
  if (d.rows == 0 || d.D == 0) return 0;
  auto s = static_cast<pcStream_t>(stream);
  switch (d.x.dtype) {
    case kF32: return launch_softmax_dt<kF32>(d, p, s);
    case kF16: return launch_softmax_dt<kF16>(d, p, s);
    case kBF16: return launch_softmax_dt<kBF16>(d, p, s);
    default: return static_cast<int>(pcErrorNotSupported);
  }
}

}  // namespace porta::cuda
