// softmax(scale*x + mask) over the last dim, one block per row: max, sum of exp, write.
// x is re-read in each pass (L2-resident rows) so out may alias x. A row with no finite
// input (all -inf after masking) gives zeros; a NaN anywhere gives a NaN row.
#include "device_common.cuh"
#include "launch.h"

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

}  // namespace porta::cuda
