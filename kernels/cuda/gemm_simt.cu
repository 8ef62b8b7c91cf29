// Portable GEMM: 64x64x16 block tiles, 256 threads with 4x4 register tiles, operands read
// through any strides and dtypes into f32 shared tiles. The fallback of every shape and the
// path of CUDA-dialect GPUs. Also the split-K reduction (sum of partials + epilogue).
#include "gemm_epilogue.cuh"
#include "gemm_tiles.h"
#include "launch.h"

namespace porta::cuda {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kThreads = 256;
// The body hard-codes 16 x 16 threads of 4 x 4 results: the row must say the same.
static_assert(same_tile(gemm_tile_simt(), GemmTile{kBM, kBN, kBK, 4, 4, 1}) && kThreads == 16 * 16 &&
                  kBM == 16 * 4 && kBN == 16 * 4,
              "gemm_tiles.h's simt row and gemm_simt_kernel disagree");

__global__ void __launch_bounds__(kThreads) gemm_simt_kernel(GemmDesc d) {
  __shared__ float As[kBK][kBM + 4];
  __shared__ float Bs[kBK][kBN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  const int64_t k_chunk = (d.K + d.splits - 1) / d.splits;
  for (int64_t z = blockIdx.z; z < d.batch * d.splits; z += gridDim.z) {
    const int64_t b = z / d.splits;
    const int split = int(z % d.splits);
    const int64_t k_begin = split * k_chunk, k_end = k_begin + k_chunk < d.K ? k_begin + k_chunk : d.K;
    const char* A = d.a.ptr;
    const char* B = d.b.ptr;
    const int64_t ab = b * d.a.strides[1], bb = b * d.b.strides[1];
    float acc[4][4] = {};
    for (int64_t k0 = k_begin; k0 < k_end; k0 += kBK) {
      for (int e = tid; e < kBM * kBK; e += kThreads) {  // A tile: k fastest for K-contiguous A
        const int kk = e % kBK, mm = e / kBK;
        const int64_t m = m0 + mm, k = k0 + kk;
        As[kk][mm] = (m < d.M && k < k_end)
                         ? load_f(A, d.a.dtype, ab + m * d.a.strides[2] + k * d.a.strides[3])
                         : 0.0f;
      }
      const bool b_kmajor = d.b.strides[2] == 1 && d.b.strides[3] != 1;
      for (int e = tid; e < kBN * kBK; e += kThreads) {
        const int kk = b_kmajor ? e % kBK : e / kBN, nn = b_kmajor ? e / kBK : e % kBN;
        const int64_t n = n0 + nn, k = k0 + kk;
        Bs[kk][nn] = (n < d.N && k < k_end)
                         ? load_f(B, d.b.dtype, bb + k * d.b.strides[2] + n * d.b.strides[3])
                         : 0.0f;
      }
      pc_syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
      }
      pc_syncthreads();
    }
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
        if (m < d.M && n < d.N) gemm_store_or_partial(d, b, split, m, n, acc[i][j]);
      }
  }
}

__global__ void gemm_reduce_kernel(GemmDesc d) {
  const int64_t total = d.batch * d.M * d.N, plane = d.batch * d.M * d.N;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < d.splits; ++s) acc += d.partial[s * plane + i];
    const int64_t n = i % d.N, m = i / d.N % d.M, b = i / (d.N * d.M);
    gemm_store(d, b, m, n, acc);
  }
}

}  // namespace

int launch_gemm_simt(const GemmDesc& d, const GemmTile& t, void* stream) {
  if (!same_tile(t, gemm_tile_simt())) return kTileMismatch;
  if (d.M == 0 || d.N == 0 || d.batch == 0) return 0;
  const int64_t z = d.batch * d.splits;
  dim3 grid(static_cast<unsigned>((d.N + kBN - 1) / kBN), static_cast<unsigned>((d.M + kBM - 1) / kBM),
            static_cast<unsigned>(z < 65535 ? z : 65535));
  gemm_simt_kernel<<<grid, kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

int launch_gemm_reduce(const GemmDesc& d, void* stream) {
  const int64_t total = d.batch * d.M * d.N;
  if (total == 0) return 0;
  gemm_reduce_kernel<<<grid_for(total, 256), 256, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
