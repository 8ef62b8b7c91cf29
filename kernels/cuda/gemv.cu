// Decode GEMM (M <= 16): bandwidth-bound, every byte of B is read from memory exactly once.
//
// Tensor-core path (NVIDIA builds; f16/bf16, A [M, K] and B [N, K] both K-contiguous with
// 16-byte aligned rows, K % 8 == 0: nn.Linear weights): A's <= 16 rows are the rows of
// mma.sync m16n8k16 (rows >= M read row M-1 and are dropped), so the tensor cores do the
// multiply and the CUDA cores only move data. A block of 8 warps owns 32 output columns;
// the warps split the block's K range in 32-element chunks (warp w takes chunks w, w+8, ...)
// and add their 16x32 partial tiles through shared memory at the end. Per chunk a lane
// loads 16 contiguous bytes of each of 4 B rows and of 2 A rows (no shuffles): lane
// (g = lane/4, q = lane%4) reads k = k0 + 8q .. + 8, and the two mma of the chunk take
// element pairs (0,1),(2,3) and (4,5),(6,7) of those 8 as their fragment's k pairs
// (2q, 2q+1) and (2q+8, 2q+9). A and B use the same assignment, so every product
// A[m][k] * B[k][n] is formed once; only the order of the sum over k differs. Two chunks
// are loaded before either is used (32 bytes x 4 rows in flight per lane), which with ~16
// warps per SM keeps enough bytes in flight to saturate HBM.
// A (M x K, at most 256 KiB) is read by every block from L2/L1: M/32 bytes per byte of B.
//
// [K, N] weights (f16/bf16, N-contiguous, N % 8 == 0): gemv_kn_kernel, 8 columns per lane
// with 16-byte loads along N, f32 FMAs (portable: also the hip module's path).
//
// Other dtypes/strides (and the hip module for [N, K]): one 32-lane group per output
// column, 16-byte loads when A and B are K-contiguous.
//
// Both paths split K across grid.z when the planner asks (few columns, long K): then the
// f32 partials go to the workspace and gemm_reduce applies the epilogue.
#include "gemm_epilogue.cuh"
#include "gemm_tiles.h"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "mma_sm80.cuh"
#endif

namespace porta::cuda {
namespace {

constexpr int kMaxM = 16, kThreads = 256;
static_assert(gemm_tile_gemv().block_m == kMaxM && gemm_tile_gemv().block_k == 256,
              "gemm_tiles.h's gemv row and gemv.cu disagree (M bound, K split alignment)");
constexpr int kChunkAlign = 256;  // K range of one split: a multiple of this (gemm_plan.cpp)

/// K range [begin, end) of split `split`.
__device__ __forceinline__ void split_range(const GemmDesc& d, int split, int64_t* begin, int64_t* end) {
  const int64_t chunk = ((d.K + d.splits - 1) / d.splits + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
  *begin = int64_t(split) * chunk;
  *end = *begin + chunk < d.K ? *begin + chunk : d.K;
}

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
  const int split = int(blockIdx.z);
  int64_t k_begin, k_end;
  split_range(d, split, &k_begin, &k_end);
  const int64_t ab = b * d.a.strides[1], bb = b * d.b.strides[1];
  const int ea = d.a.dtype == kF32 ? 4 : 2, eb = d.b.dtype == kF32 ? 4 : 2;
  const int per = 16 / eb;  // elements per vector load (a and b have the same size in kVec)
  for (int64_t n = int64_t(blockIdx.x) * groups + group; n < d.N; n += int64_t(gridDim.x) * groups) {
    float acc[kMaxM] = {};
    if (kVec) {
      const char* bp = d.b.ptr + (bb + n * d.b.strides[3]) * eb;
      for (int64_t k = k_begin + int64_t(lane) * per; k < k_end; k += int64_t(kGroup) * per) {
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
      for (int64_t k = k_begin + lane; k < k_end; k += kGroup) {
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
        if (lane == 0) gemm_store_or_partial(d, b, split, m, n, v);
      }
    }
  }
}

// [K, N] weights (N-contiguous, 16-bit): lane l of every warp owns 8 adjacent columns
// (one 16-byte load per K row; a warp reads 512 contiguous bytes of a row), the 8 warps of
// a block split the K range (warp w takes rows w, w+8, ...) for the same 256 columns and
// add their partial sums through shared memory, one warp after another. A's elements are
// warp-uniform loads (one transaction, L1-resident). kRows accumulator rows (4, 8 or 16 >= M)
// x 8 columns stay in registers; 4 K rows (2 for 16 rows) are loaded before any is used.
constexpr int kKnCols = 256;
/// K rows loaded ahead: 4, or 2 for 16 rows (128 accumulators already).
template <int kRows>
constexpr int kn_unroll() {
  return kRows >= 16 ? 2 : 4;
}

template <int kRows>
__global__ void __launch_bounds__(kThreads) gemv_kn_kernel(GemmDesc d) {
  __shared__ float red[kRows][kKnCols];
  const int warp = threadIdx.x / kGroup, lane = threadIdx.x % kGroup, warps = kThreads / kGroup;
  const int64_t b = blockIdx.y;
  const int split = int(blockIdx.z);
  int64_t k_begin, k_end;
  split_range(d, split, &k_begin, &k_end);
  const int64_t n0 = int64_t(blockIdx.x) * kKnCols + lane * 8;
  const bool n_ok = n0 < d.N;  // N % 8 == 0: then all 8 columns exist
  const bool bf = d.b.dtype == kBF16;
  const char* bp = d.b.ptr + (b * d.b.strides[1] + (n_ok ? n0 : 0)) * 2;
  const int64_t ab = b * d.a.strides[1];
  constexpr int kKnUnroll = kn_unroll<kRows>();
  float acc[kRows][8] = {};
  for (int64_t k = k_begin + warp; k < k_end; k += int64_t(warps) * kKnUnroll) {
    uint4 v[kKnUnroll];
    float a[kKnUnroll][kRows];
#pragma unroll
    for (int u = 0; u < kKnUnroll; ++u) {
      const int64_t kk = k + int64_t(u) * warps;
      const bool ok = kk < k_end;
      v[u] =
          ok && n_ok ? *reinterpret_cast<const uint4*>(bp + kk * d.b.strides[2] * 2) : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int m = 0; m < kRows; ++m)
        a[u][m] =
            ok && m < d.M ? load_f(d.a.ptr, d.a.dtype, ab + m * d.a.strides[2] + kk * d.a.strides[3]) : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kKnUnroll; ++u) {
      const uint32_t w[4] = {v[u].x, v[u].y, v[u].z, v[u].w};
      float bv[8];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        bv[2 * j] = bf ? bf16_bits_to_f32(uint16_t(w[j])) : f16_bits_to_f32(uint16_t(w[j]));
        bv[2 * j + 1] = bf ? bf16_bits_to_f32(uint16_t(w[j] >> 16)) : f16_bits_to_f32(uint16_t(w[j] >> 16));
      }
#pragma unroll
      for (int m = 0; m < kRows; ++m)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[m][j] += a[u][m] * bv[j];
    }
  }
  for (int w = 0; w < warps; ++w) {  // warps add their partial tiles in turn
    if (warp == w)
#pragma unroll
      for (int m = 0; m < kRows; ++m)
#pragma unroll
        for (int j = 0; j < 8; ++j) red[m][lane * 8 + j] = (w == 0 ? 0.0f : red[m][lane * 8 + j]) + acc[m][j];
    __syncthreads();
  }
  for (int i = threadIdx.x; i < kRows * kKnCols; i += kThreads) {
    const int m = i / kKnCols, c = i % kKnCols;
    const int64_t n = int64_t(blockIdx.x) * kKnCols + c;
    if (m < d.M && n < d.N) gemm_store_or_partial(d, b, split, m, n, red[m][c]);
  }
}

#if defined(PORTA_CUDA_NVIDIA_PATHS)

constexpr int kMmaWarps = 8, kMmaTiles = 4, kMmaCols = 8 * kMmaTiles;  // 32 columns per block
constexpr int kMmaUnroll = 2;                                          // chunks loaded ahead

__device__ __forceinline__ uint4 ld16(const char* p, bool valid) {
  return valid ? __ldg(reinterpret_cast<const uint4*>(p)) : make_uint4(0, 0, 0, 0);
}
// B is streamed once: keep it out of L1 so A stays there.
__device__ __forceinline__ uint4 ld16_stream(const char* p, bool valid) {
  uint4 v = make_uint4(0, 0, 0, 0);
  if (valid)
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p));
  return v;
}

template <bool kBF16>
__global__ void __launch_bounds__(kMmaWarps * 32) gemv_mma_kernel(GemmDesc d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  __shared__ float red[kMmaWarps][kMaxM][kMmaCols];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
  const int64_t b = blockIdx.y;
  const int split = int(blockIdx.z);
  int64_t k_begin, k_end;
  split_range(d, split, &k_begin, &k_end);
  const int64_t n_base = int64_t(blockIdx.x) * kMmaCols;
  // Rows of A this lane feeds (g and g + 8) and rows of B (columns n_base + 8t + g), clamped
  // into range: clamped rows/columns compute values that are never stored.
  const int64_t m_lo = g < d.M ? g : d.M - 1, m_hi = g + 8 < d.M ? g + 8 : d.M - 1;
  const char* a_lo = d.a.ptr + (b * d.a.strides[1] + m_lo * d.a.strides[2]) * 2;
  const char* a_hi = d.a.ptr + (b * d.a.strides[1] + m_hi * d.a.strides[2]) * 2;
  const char* bp[kMmaTiles];
#pragma unroll
  for (int t = 0; t < kMmaTiles; ++t) {
    int64_t n = n_base + 8 * t + g;
    n = n < d.N ? n : d.N - 1;
    bp[t] = d.b.ptr + (b * d.b.strides[1] + n * d.b.strides[3]) * 2;
  }
  float acc[kMmaTiles][4] = {};
  for (int64_t k0 = k_begin + int64_t(warp) * 32; k0 < k_end; k0 += int64_t(kMmaWarps) * 32 * kMmaUnroll) {
    uint4 va[kMmaUnroll][2], vb[kMmaUnroll][kMmaTiles];
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {  // all loads first: 2 chunks in flight
      const int64_t k = k0 + int64_t(u) * kMmaWarps * 32 + 8 * q;
      const bool ok = k < k_end;  // K % 8 == 0 and splits end on multiples of 8
#pragma unroll
      for (int t = 0; t < kMmaTiles; ++t) vb[u][t] = ld16_stream(bp[t] + k * 2, ok);
      va[u][0] = ld16(a_lo + k * 2, ok);
      va[u][1] = ld16(a_hi + k * 2, ok);
    }
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {
      const uint32_t f0[4] = {va[u][0].x, va[u][1].x, va[u][0].y, va[u][1].y};
      const uint32_t f1[4] = {va[u][0].z, va[u][1].z, va[u][0].w, va[u][1].w};
#pragma unroll
      for (int t = 0; t < kMmaTiles; ++t) {
        const uint32_t b0[2] = {vb[u][t].x, vb[u][t].y}, b1[2] = {vb[u][t].z, vb[u][t].w};
        sm80::mma16816<kBF16>(acc[t], f0, b0);
        sm80::mma16816<kBF16>(acc[t], f1, b1);
      }
    }
  }
  // acc[t][e]: row g + 8*(e/2), column 8t + 2q + e%2 of the block's 16 x 32 tile.
#pragma unroll
  for (int t = 0; t < kMmaTiles; ++t)
#pragma unroll
    for (int e = 0; e < 4; ++e) red[warp][g + 8 * (e / 2)][8 * t + 2 * q + e % 2] = acc[t][e];
  __syncthreads();
  for (int i = threadIdx.x; i < kMaxM * kMmaCols; i += kMmaWarps * 32) {
    const int m = i / kMmaCols, c = i % kMmaCols;
    const int64_t n = n_base + c;
    if (m >= d.M || n >= d.N) continue;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kMmaWarps; ++w) v += red[w][m][c];
    gemm_store_or_partial(d, b, split, m, n, v);
  }
#endif
}

#endif  // PORTA_CUDA_NVIDIA_PATHS

}  // namespace

// The host picks this path only for M <= 16. mma: f16/bf16 with K-contiguous, 16-byte
// aligned A and B rows (NVIDIA builds). kVec: K-contiguous A and B of one float dtype,
// 16-byte aligned rows and K a multiple of the vector width.
int launch_gemv(const GemmDesc& d, void* stream) {
  if (d.M == 0 || d.N == 0 || d.batch == 0) return 0;
  const int eb = d.b.dtype == kF32 ? 4 : 2;
  const int per = 16 / eb;
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
  const bool vec = d.a.dtype == d.b.dtype && d.a.strides[3] == 1 && d.b.strides[2] == 1 && d.K % per == 0 &&
                   aligned(d.a.ptr) && aligned(d.b.ptr) && d.a.strides[2] % per == 0 &&
                   d.b.strides[3] % per == 0 && d.a.strides[1] % per == 0 && d.b.strides[1] % per == 0;
  const unsigned splits = static_cast<unsigned>(d.splits > 1 ? d.splits : 1);
  auto s = static_cast<pcStream_t>(stream);
#if defined(PORTA_CUDA_NVIDIA_PATHS)
  if (vec && d.M <= kMaxM && (d.a.dtype == kF16 || d.a.dtype == kBF16)) {
    dim3 grid(static_cast<unsigned>((d.N + kMmaCols - 1) / kMmaCols), static_cast<unsigned>(d.batch), splits);
    if (d.a.dtype == kBF16)
      gemv_mma_kernel<true><<<grid, kMmaWarps * 32, 0, s>>>(d);
    else
      gemv_mma_kernel<false><<<grid, kMmaWarps * 32, 0, s>>>(d);
    return static_cast<int>(pcGetLastError());
  }
#endif
  const bool kn = d.a.dtype == d.b.dtype && (d.b.dtype == kF16 || d.b.dtype == kBF16) &&
                  d.b.strides[3] == 1 && d.N % 8 == 0 && aligned(d.b.ptr) && d.b.strides[2] % 8 == 0 &&
                  d.b.strides[1] % 8 == 0;
  if (!vec && kn) {
    dim3 grid(static_cast<unsigned>((d.N + kKnCols - 1) / kKnCols), static_cast<unsigned>(d.batch), splits);
    if (d.M <= 4)
      gemv_kn_kernel<4><<<grid, kThreads, 0, s>>>(d);
    else if (d.M <= 8)
      gemv_kn_kernel<8><<<grid, kThreads, 0, s>>>(d);
    else
      gemv_kn_kernel<16><<<grid, kThreads, 0, s>>>(d);
    return static_cast<int>(pcGetLastError());
  }
  const int64_t groups = kThreads / kGroup;
  const int64_t gx = (d.N + groups - 1) / groups;
  dim3 grid(static_cast<unsigned>(gx < 65535 * 32 ? gx : 65535 * 32), static_cast<unsigned>(d.batch), splits);
  if (vec)
    gemv_kernel<true><<<grid, kThreads, 0, s>>>(d);
  else
    gemv_kernel<false><<<grid, kThreads, 0, s>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
