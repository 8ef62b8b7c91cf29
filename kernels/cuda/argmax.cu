// argmax over the last dim, one block per row: first index of the maximum, a NaN counts as
// larger than any number (the first NaN wins). Values compare as double, exact for every
// dtype including i32.
#include "device_common.cuh"
#include "launch.h"

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

}  // namespace porta::cuda
