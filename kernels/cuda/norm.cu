// rms_norm and layer_norm over the last dim: one block per row, statistics in f32 with
// block reductions (layer_norm subtracts the mean before squaring: no cancellation), then
// one pass that reads x again (from L2) and writes out. In place (out == x) is safe: each
// element is read before it is written by the same thread.
#include "device_common.cuh"
#include "launch.h"

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

}  // namespace porta::cuda
