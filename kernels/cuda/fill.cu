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

namespace {

// ---------------------------------------------------------------- 16-byte stores ----

// Contiguous, 16-byte aligned dst: the element pattern replicated into a 16-byte vector,
// stored nvec times; the n % (16 / size) tail elements by the first threads.
template <typename T>
__global__ void fill_vec16(FillDesc d, uint4 v, int64_t nvec) {
  uint4* p = reinterpret_cast<uint4*>(d.dst.ptr);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nvec;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = v;
  const int64_t t = nvec * int64_t(16 / sizeof(T)) + blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (t < d.n) reinterpret_cast<T*>(d.dst.ptr)[t] = T(d.pattern);
}

}  // namespace

int launch_fill_vec16(const FillDesc& d, void* stream) {
  if (d.n == 0) return 0;
  constexpr int kThreads = 256;
  auto s = static_cast<pcStream_t>(stream);
  const bool half = d.dst.dtype == kF16 || d.dst.dtype == kBF16;
  if (!half && d.dst.dtype != kF32 && d.dst.dtype != kI32) return static_cast<int>(pcErrorNotSupported);
  const uint32_t w = half ? (d.pattern & 0xffffu) | (d.pattern << 16) : d.pattern;
  const uint4 v = make_uint4(w, w, w, w);
  const int64_t per_vec = half ? 8 : 4, nvec = d.n / per_vec;
  // Enough threads for the vectors and for the tail (< per_vec elements).
  const unsigned grid = grid_for(nvec > 0 ? nvec : 1, kThreads);
  if (half)
    fill_vec16<uint16_t><<<grid, kThreads, 0, s>>>(d, v, nvec);
  else
    fill_vec16<uint32_t><<<grid, kThreads, 0, s>>>(d, v, nvec);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
