// copy (same dtype, any strides) and cast (any dtype pair). Copies move raw element bits;
// casts round once: float -> int rounds half to even and saturates (NaN -> 0), int -> half
// goes through an f32 rounded to odd so the value is rounded once, as the host does.
// Dense same-dtype copies never get here: the host uses a device-to-device memcpy.
#include "device_common.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

__device__ __forceinline__ float f32_round_to_odd(double v) {
  float f = __double2float_rz(v);
  if (double(f) != v && v == v && !isinf(f)) f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}

template <typename I>
__device__ __forceinline__ I saturate(double v, double lo, double hi) {
  if (v != v) return 0;
  v = rint(v);
  return I(v <= lo ? lo : v >= hi ? hi : v);
}

__device__ void cast_one(const char* src, int sdt, int64_t si, char* dst, int ddt, int64_t di) {
  const bool s_int = sdt == kI8 || sdt == kI32;
  if (s_int) {
    const int32_t x = sdt == kI8 ? int32_t(reinterpret_cast<const int8_t*>(src)[si])
                                 : reinterpret_cast<const int32_t*>(src)[si];
    switch (ddt) {
      case kI32: reinterpret_cast<int32_t*>(dst)[di] = x; return;
      case kI8: reinterpret_cast<int8_t*>(dst)[di] = int8_t(x < -128 ? -128 : x > 127 ? 127 : x); return;
      case kF32: reinterpret_cast<float*>(dst)[di] = __int2float_rn(x); return;
      default: store_f(dst, ddt, di, f32_round_to_odd(double(x))); return;
    }
  }
  const float x = load_f(src, sdt, si);
  switch (ddt) {
    case kI32:
      reinterpret_cast<int32_t*>(dst)[di] = saturate<int32_t>(x, -2147483648.0, 2147483647.0);
      return;
    case kI8: reinterpret_cast<int8_t*>(dst)[di] = saturate<int8_t>(x, -128.0, 127.0); return;
    default: store_f(dst, ddt, di, x); return;
  }
}

template <typename T>
__global__ void copy_strided(ElementwiseDesc d) {
  const T* a = reinterpret_cast<const T*>(d.a.ptr);
  T* o = reinterpret_cast<T*>(d.out.ptr);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < d.n;
       i += int64_t(gridDim.x) * blockDim.x)
    o[offset_of(d.out, d.out.shape, i)] = a[offset_of(d.a, d.out.shape, i)];
}

__global__ void cast_kernel(ElementwiseDesc d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < d.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t si = d.dense ? i : offset_of(d.a, d.out.shape, i);
    const int64_t di = d.dense ? i : offset_of(d.out, d.out.shape, i);
    cast_one(d.a.ptr, d.a.dtype, si, d.out.ptr, d.out.dtype, di);
  }
}

__host__ __device__ int elem_bytes(int dt) { return dt == kF32 || dt == kI32 ? 4 : dt == kI8 ? 1 : 2; }

}  // namespace

int launch_cast_copy(const ElementwiseDesc& d, void* stream) {
  if (d.n == 0) return 0;
  constexpr int kThreads = 256;
  auto s = static_cast<pcStream_t>(stream);
  const unsigned grid = grid_for(d.n, kThreads);
  if (d.a.dtype == d.out.dtype) {
    switch (elem_bytes(d.a.dtype)) {
      case 1: copy_strided<uint8_t><<<grid, kThreads, 0, s>>>(d); break;
      case 2: copy_strided<uint16_t><<<grid, kThreads, 0, s>>>(d); break;
      default: copy_strided<uint32_t><<<grid, kThreads, 0, s>>>(d); break;
    }
  } else {
    cast_kernel<<<grid, kThreads, 0, s>>>(d);
  }
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- row vectors ----

// Same-dtype strided copy whose rows (out's last dim) are unit-stride and 16-byte aligned in
// both tensors: raw 16-byte moves, any dtype, bits unchanged.
__global__ void __launch_bounds__(256) copy_rows(ElementwiseDesc d, VecRowsLaunch p) {
  const int es = elem_bytes(d.out.dtype);
  const int64_t vcols = p.cols * es / 16;
  for (int64_t r = int64_t(blockIdx.y) * p.block_y + threadIdx.y; r < p.rows;
       r += int64_t(gridDim.y) * p.block_y) {
    const uint4* a = reinterpret_cast<const uint4*>(d.a.ptr + row_offset(d.a, d.out.shape, r) * es);
    uint4* out = reinterpret_cast<uint4*>(d.out.ptr + row_offset(d.out, d.out.shape, r) * es);
    for (int64_t q = int64_t(blockIdx.x) * p.block_x + threadIdx.x; q < vcols;
         q += int64_t(gridDim.x) * p.block_x)
      out[q] = a[q];
  }
}

}  // namespace

int launch_copy_rows(const ElementwiseDesc& d, const VecRowsLaunch& p, void* stream) {
  if (p.rows == 0 || p.cols == 0) return 0;
  copy_rows<<<dim3(p.grid_x, p.grid_y), dim3(p.block_x, p.block_y), 0, static_cast<pcStream_t>(stream)>>>(d,
                                                                                                          p);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
