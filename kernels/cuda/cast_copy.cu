// copy (same dtype, any strides) and cast (any dtype pair). Copies move raw element bits;
// casts round once: float -> int rounds half to even and saturates (NaN -> 0), int -> half
// goes through an f32 rounded to odd so the value is rounded once, as the host does.
// Dense same-dtype copies never get here: the host uses a device-to-device memcpy.
// Bandwidth paths: copy_rows (strided copies with aligned unit-stride rows, raw 16-byte
// moves) and cast_vec8 (dense float-to-float casts, 8 elements per thread per step; the
// host flags them with d.vec4, see rows_plan.h plan_cast_vec).
#include "launch.h"
#include "rows_common.cuh"

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

// Stores 8 consecutive elements [i, i + 8) of a float dtype known at run time: one 16-byte
// store for f16/bf16, two for f32 (the caller guarantees 16-byte alignment of the start).
__device__ __forceinline__ void store8_any(char* p, int dt, int64_t i, const float (&v)[8]) {
  if (dt == kF32) {
    for (int c = 0; c < 2; ++c) {
      uint32_t w[4];
      pack_words<kF32, 4>(v + 4 * c, w);
      reinterpret_cast<uint4*>(p + (i + 4 * c) * 4)[0] = make_uint4(w[0], w[1], w[2], w[3]);
    }
  } else {
    uint32_t w[4];
    if (dt == kF16)
      pack_words<kF16, 4>(v, w);
    else
      pack_words<kBF16, 4>(v, w);
    reinterpret_cast<uint4*>(p + i * 2)[0] = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

// Dense cast between two float dtypes, both pointers 16-byte aligned: each step converts 8
// elements (16 or 32 bytes each way) through f32 with the same single rounding as
// cast_one; the n % 8 tail goes through cast_one by the first threads.
__global__ void cast_vec8(ElementwiseDesc d) {
  const int64_t n8 = d.n / 8;
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < n8;
       q += int64_t(gridDim.x) * blockDim.x) {
    float v[8];
    load_vec_any<8>(d.a.ptr, d.a.dtype, q * 8, v);
    store8_any(d.out.ptr, d.out.dtype, q * 8, v);
  }
  const int64_t i = n8 * 8 + blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < d.n) cast_one(d.a.ptr, d.a.dtype, i, d.out.ptr, d.out.dtype, i);
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
  } else if (d.vec4) {
    cast_vec8<<<grid_for(d.n / 8 + 1, kThreads), kThreads, 0, s>>>(d);
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
    const RowIndex ri = split_row(d.out.shape, r);
    const uint4* a = reinterpret_cast<const uint4*>(d.a.ptr + row_at(d.a, ri) * es);
    uint4* out = reinterpret_cast<uint4*>(d.out.ptr + row_at(d.out, ri) * es);
    // Four vectors per thread loaded before any store (rows_plan.cpp vec_rows_shape).
    const int64_t stride = int64_t(gridDim.x) * p.block_x;
    for (int64_t q0 = int64_t(blockIdx.x) * p.block_x + threadIdx.x; q0 < vcols; q0 += 4 * stride) {
      uint4 v[4];
#pragma unroll
      for (int u = 0; u < 4; ++u)
        if (q0 + u * stride < vcols) v[u] = a[q0 + u * stride];
#pragma unroll
      for (int u = 0; u < 4; ++u)
        if (q0 + u * stride < vcols) out[q0 + u * stride] = v[u];
    }
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
