// fill: the host converts the value once into dst's dtype bits; the kernel replicates them.
// Dense zero fills never get here (the host uses a memset).
#include "device_common.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

template <typename T>
__global__ void fill_kernel(FillDesc d) {
  const T v = T(d.pattern);
  T* p = reinterpret_cast<T*>(d.dst.ptr);
  const bool dense = d.dst.strides[3] == 1 && d.dst.strides[2] == d.dst.shape[3] &&
                     d.dst.strides[1] == d.dst.shape[2] * d.dst.shape[3] &&
                     d.dst.strides[0] == d.dst.shape[1] * d.dst.shape[2] * d.dst.shape[3];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < d.n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[dense ? i : offset_of(d.dst, d.dst.shape, i)] = v;
}

}  // namespace

int launch_fill(const FillDesc& d, void* stream) {
  if (d.n == 0) return 0;
  constexpr int kThreads = 256;
  auto s = static_cast<pcStream_t>(stream);
  const unsigned grid = grid_for(d.n, kThreads);
  switch (d.dst.dtype) {
    case kI8: fill_kernel<uint8_t><<<grid, kThreads, 0, s>>>(d); break;
    case kF16:
    case kBF16: fill_kernel<uint16_t><<<grid, kThreads, 0, s>>>(d); break;
    default: fill_kernel<uint32_t><<<grid, kThreads, 0, s>>>(d); break;
  }
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
