// sm_80 GEMM (A800/A100; also runs on sm_90): f16/bf16 operands, f32 accumulation on the
// tensor cores with mma.sync.m16n8k16, operands staged by a multistage cp.async pipeline
// (Stages tiles in flight), fragments loaded with ldmatrix. BlockTile 128x128x32, 8 warps
// as 2x4, WarpTile 64x32. Shared rows are padded by 8 elements (16 bytes) so the ldmatrix
// row addresses of one phase fall in different banks.
// B is read either K-contiguous ([N, K] weights, ldmatrix) or N-contiguous ([K, N],
// ldmatrix.trans). The host sends only shapes this kernel takes (gemm_plan.cpp):
// K % 8 == 0, 16-byte aligned rows, and N % 8 == 0 for N-contiguous B.
#include "gemm_epilogue.cuh"
#include "gemm_tiles.h"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "mma_sm80.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 32, kWarpsM = 2, kWarpsN = 4, kStages = 3;
constexpr int kThreads = 32 * kWarpsM * kWarpsN;
static_assert(same_tile(gemm_tile_sm80(), GemmTile{kBM, kBN, kBK, kWarpsM, kWarpsN, kStages}),
              "gemm_tiles.h's sm80 row and gemm_sm80_kernel disagree");
constexpr int kPad = 8;
constexpr int kARow = kBK + kPad;  // A stage: [kBM][kARow]
constexpr int kAStage = kBM * kARow;
constexpr int kBStageK = kBN * (kBK + kPad);             // B K-contiguous: [kBN][kBK + kPad]
constexpr int kBStageN = kBK * (kBN + kPad);             // B N-contiguous: [kBK][kBN + kPad]
constexpr int kWM = kBM / kWarpsM, kWN = kBN / kWarpsN;  // 64 x 32
constexpr int kFragM = kWM / 16, kFragN = kWN / 8;       // 4 x 4

using namespace sm80;

template <bool kBF16, bool kBKMajor>
__global__ void __launch_bounds__(kThreads) gemm_sm80_kernel(GemmDesc d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(16) uint16_t sm[];
  uint16_t* As = sm;
  uint16_t* Bs = sm + kStages * kAStage;
  constexpr int kBStage = kBKMajor ? kBStageK : kBStageN;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm0 = (warp / kWarpsN) * kWM, wn0 = (warp % kWarpsN) * kWN;
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  const int64_t lda = d.a.strides[2], ldb = kBKMajor ? d.b.strides[3] : d.b.strides[2];
  const int64_t k_chunk = ((d.K + d.splits - 1) / d.splits + kBK - 1) / kBK * kBK;

  for (int64_t z = blockIdx.z; z < d.batch * d.splits; z += gridDim.z) {
    const int64_t b = z / d.splits;
    const int split = int(z % d.splits);
    const int64_t k_begin = split * k_chunk;
    const int64_t k_end = k_begin + k_chunk < d.K ? k_begin + k_chunk : d.K;
    const int ktiles = k_end > k_begin ? int((k_end - k_begin + kBK - 1) / kBK) : 0;
    const uint16_t* A = reinterpret_cast<const uint16_t*>(d.a.ptr) + b * d.a.strides[1];
    const uint16_t* B = reinterpret_cast<const uint16_t*>(d.b.ptr) + b * d.b.strides[1];

    auto load_tile = [&](int kt, int stage) {
      const int64_t k0 = k_begin + int64_t(kt) * kBK;
      uint16_t* as = As + stage * kAStage;
      uint16_t* bs = Bs + stage * kBStage;
      for (int c = tid; c < kBM * (kBK / 8); c += kThreads) {
        const int row = c / (kBK / 8), kc = (c % (kBK / 8)) * 8;
        const int64_t m = m0 + row, k = k0 + kc;
        const bool ok = m < d.M && k < k_end;
        cp_async16(smem_addr(as + row * kARow + kc), ok ? A + m * lda + k : A, ok);
      }
      if (kBKMajor) {
        for (int c = tid; c < kBN * (kBK / 8); c += kThreads) {
          const int row = c / (kBK / 8), kc = (c % (kBK / 8)) * 8;
          const int64_t n = n0 + row, k = k0 + kc;
          const bool ok = n < d.N && k < k_end;
          cp_async16(smem_addr(bs + row * (kBK + kPad) + kc), ok ? B + n * ldb + k : B, ok);
        }
      } else {
        for (int c = tid; c < kBK * (kBN / 8); c += kThreads) {
          const int krow = c / (kBN / 8), nc = (c % (kBN / 8)) * 8;
          const int64_t k = k0 + krow, n = n0 + nc;
          const bool ok = k < k_end && n < d.N;
          cp_async16(smem_addr(bs + krow * (kBN + kPad) + nc), ok ? B + k * ldb + n : B, ok);
        }
      }
    };

    float acc[kFragM][kFragN][4] = {};
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < ktiles) load_tile(s, s);
      cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; ++kt) {
      cp_async_wait<kStages - 2>();
      __syncthreads();  // tile kt landed for every thread; stage (kt-1) % kStages is free
      if (kt + kStages - 1 < ktiles) load_tile(kt + kStages - 1, (kt + kStages - 1) % kStages);
      cp_async_commit();
      const uint16_t* as = As + (kt % kStages) * kAStage;
      const uint16_t* bs = Bs + (kt % kStages) * kBStage;
#pragma unroll
      for (int kk = 0; kk < kBK; kk += 16) {
        uint32_t af[kFragM][4], bf[kFragN][2];
#pragma unroll
        for (int i = 0; i < kFragM; ++i)
          ldmatrix_x4(smem_addr(as + (wm0 + i * 16 + lane % 16) * kARow + kk + (lane / 16) * 8), af[i]);
#pragma unroll
        for (int p = 0; p < kFragN / 2; ++p) {
          uint32_t r[4];
          if (kBKMajor) {
            const int n = wn0 + p * 16 + lane % 8 + (lane / 16) * 8, k = kk + ((lane / 8) % 2) * 8;
            ldmatrix_x4(smem_addr(bs + n * (kBK + kPad) + k), r);
          } else {
            const int k = kk + lane % 8 + ((lane / 8) % 2) * 8, n = wn0 + p * 16 + (lane / 16) * 8;
            ldmatrix_x4_trans(smem_addr(bs + k * (kBN + kPad) + n), r);
          }
          bf[2 * p][0] = r[0], bf[2 * p][1] = r[1], bf[2 * p + 1][0] = r[2], bf[2 * p + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < kFragM; ++i)
#pragma unroll
          for (int j = 0; j < kFragN; ++j) mma16816<kBF16>(acc[i][j], af[i], bf[j]);
      }
    }
    cp_async_wait<0>();
    __syncthreads();  // the next batch/split reuses the stages

#pragma unroll
    for (int i = 0; i < kFragM; ++i)
#pragma unroll
      for (int j = 0; j < kFragN; ++j)
#pragma unroll
        for (int h = 0; h < 4; ++h) {
          const int64_t m = m0 + wm0 + i * 16 + lane / 4 + (h / 2) * 8;
          const int64_t n = n0 + wn0 + j * 8 + (lane % 4) * 2 + h % 2;
          if (m < d.M && n < d.N) gemm_store_or_partial(d, b, split, m, n, acc[i][j][h]);
        }
  }
#endif
}

template <bool kBF16, bool kBKMajor>
int launch_variant(const GemmDesc& d, void* stream) {
  constexpr size_t smem = sizeof(uint16_t) * kStages * (kAStage + (kBKMajor ? kBStageK : kBStageN));
  // Per device and cheap: set on every launch so a second GPU gets it too.
  auto* kernel = gemm_sm80_kernel<kBF16, kBKMajor>;
  const pcError_t attr = pcFuncSetMaxDynamicSharedMemory(kernel, int(smem));
  if (attr != pcSuccess) return static_cast<int>(attr);
  const int64_t z = d.batch * d.splits;
  dim3 grid(static_cast<unsigned>((d.N + kBN - 1) / kBN), static_cast<unsigned>((d.M + kBM - 1) / kBM),
            static_cast<unsigned>(z < 65535 ? z : 65535));
  kernel<<<grid, kThreads, smem, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace

bool gemm_sm80_compiled() { return true; }

int launch_gemm_sm80(const GemmDesc& d, const GemmTile& t, void* stream) {
  if (!same_tile(t, gemm_tile_sm80())) return kTileMismatch;
  if (d.M == 0 || d.N == 0 || d.batch == 0) return 0;
  const bool bf16 = d.a.dtype == kBF16, kmajor = d.b_kmajor != 0;
  if (bf16) return kmajor ? launch_variant<true, true>(d, stream) : launch_variant<true, false>(d, stream);
  return kmajor ? launch_variant<false, true>(d, stream) : launch_variant<false, false>(d, stream);
}

#else  // a dialect without NVIDIA PTX: the host never selects this path

bool gemm_sm80_compiled() { return false; }
int launch_gemm_sm80(const GemmDesc&, const GemmTile&, void*) { return 1; }

#endif

}  // namespace porta::cuda
