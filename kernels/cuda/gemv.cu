// Decode GEMM (M <= 16): one 32-lane group per output column n streams B's column once
// (K-contiguous weights, i.e. nn.Linear's [N, K], read with 16-byte loads) and keeps the
// M dot products in registers; A's few rows stay in L1/L2. Bandwidth-bound by design:
// every byte of B is read exactly once.
#include "gemm_epilogue.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

constexpr int kMaxM = 16, kThreads = 256;

// 8 consecutive elements as f32 from a 16-byte aligned address (f16/bf16), or 4 (f32).
__device__ __forceinline__ int load_vec(const char* p, int dt, float* v) {
  const uint4 x = *reinterpret_cast<const uint4*>(p);
  if (dt == kF32) {
    v[0] = __uint_as_float(x.x), v[1] = __uint_as_float(x.y), v[2] = __uint_as_float(x.z),
    v[3] = __uint_as_float(x.w);
    return 4;
  }
  const uint32_t w[4] = {x.x, x.y, x.z, x.w};
  for (int j = 0; j < 4; ++j) {
    const uint16_t lo = uint16_t(w[j]), hi = uint16_t(w[j] >> 16);
    v[2 * j] = dt == kF16 ? f16_bits_to_f32(lo) : bf16_bits_to_f32(lo);
    v[2 * j + 1] = dt == kF16 ? f16_bits_to_f32(hi) : bf16_bits_to_f32(hi);
  }
  return 8;
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemmDesc d) {
  const int lane = threadIdx.x % kGroup, group = threadIdx.x / kGroup, groups = kThreads / kGroup;
  const int64_t b = blockIdx.y;
  const int64_t ab = b * d.a.strides[1], bb = b * d.b.strides[1];
  const int ea = d.a.dtype == kF32 ? 4 : 2, eb = d.b.dtype == kF32 ? 4 : 2;
  const int per = 16 / eb;  // elements per vector load (a and b have the same size in kVec)
  for (int64_t n = int64_t(blockIdx.x) * groups + group; n < d.N; n += int64_t(gridDim.x) * groups) {
    float acc[kMaxM] = {};
    if (kVec) {
      const char* bp = d.b.ptr + (bb + n * d.b.strides[3]) * eb;
      for (int64_t k = int64_t(lane) * per; k < d.K; k += int64_t(kGroup) * per) {
        float bv[8], av[8];
        load_vec(bp + k * eb, d.b.dtype, bv);
#pragma unroll
        for (int m = 0; m < kMaxM; ++m) {
          if (m < d.M) {  // a guard, not a break: acc stays in registers
            load_vec(d.a.ptr + (ab + m * d.a.strides[2] + k) * ea, d.a.dtype, av);
#pragma unroll
            for (int j = 0; j < 8; ++j)
              if (j < per) acc[m] += av[j] * bv[j];
          }
        }
      }
    } else {
      for (int64_t k = lane; k < d.K; k += kGroup) {
        const float bv = load_f(d.b.ptr, d.b.dtype, bb + k * d.b.strides[2] + n * d.b.strides[3]);
#pragma unroll
        for (int m = 0; m < kMaxM; ++m)
          if (m < d.M)
            acc[m] += load_f(d.a.ptr, d.a.dtype, ab + m * d.a.strides[2] + k * d.a.strides[3]) * bv;
      }
    }
#pragma unroll
    for (int m = 0; m < kMaxM; ++m) {
      if (m < d.M) {
        const float v = group_sum(acc[m]);
        if (lane == 0) gemm_store(d, b, m, n, v);
      }
    }
  }
}

}  // namespace

// The host picks this path only for M <= 16; kVec needs K-contiguous A and B of one float
// dtype, 16-byte aligned rows and K a multiple of the vector width.
int launch_gemv(const GemmDesc& d, void* stream) {
  if (d.M == 0 || d.N == 0 || d.batch == 0) return 0;
  const int eb = d.b.dtype == kF32 ? 4 : 2;
  const int per = 16 / eb;
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
  const bool vec = d.a.dtype == d.b.dtype && d.a.strides[3] == 1 && d.b.strides[2] == 1 && d.K % per == 0 &&
                   aligned(d.a.ptr) && aligned(d.b.ptr) && d.a.strides[2] % per == 0 &&
                   d.b.strides[3] % per == 0 && d.a.strides[1] % per == 0 && d.b.strides[1] % per == 0;
  const int64_t groups = kThreads / kGroup;
  const int64_t gx = (d.N + groups - 1) / groups;
  dim3 grid(static_cast<unsigned>(gx < 65535 * 32 ? gx : 65535 * 32), static_cast<unsigned>(d.batch));
  auto s = static_cast<pcStream_t>(stream);
  if (vec)
    gemv_kernel<true><<<grid, kThreads, 0, s>>>(d);
  else
    gemv_kernel<false><<<grid, kThreads, 0, s>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
