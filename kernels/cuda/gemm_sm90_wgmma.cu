// sm_90a GEMM (H100/H20): wgmma.mma_async m64n128k16 (f16/bf16 in, f32 accumulate) from
// 128-byte-swizzled shared tiles, two consumer warpgroups (BlockTile 128x128x64), operands
// staged by a 4-stage cp.async pipeline. A is [M, K] and B is [N, K] (K-contiguous, as
// weights ship); other layouts stay on the sm80 kernel.
// Status: written without a GPU at hand and selected only by PORTA_CUDA_GEMM_PATH=sm90
// until the conformance suite has passed with it on an H100. Not yet: TMA loads and
// producer/consumer warp specialisation (the issue's target design); see docs/cuda-backend.md.
#include "gemm_epilogue.cuh"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "mma_sm80.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

using namespace sm80;  // cp.async helpers

[[maybe_unused]] constexpr int kBM = 128, kBN = 128, kBK = 64, kStages = 4;
constexpr int kThreads = 256;          // two warpgroups, 64 rows each
constexpr int kTileBytes = 128 * 128;  // 128 rows x 64 halves (128 bytes) per operand tile
constexpr int kStageBytes = 2 * kTileBytes;

// 128-byte swizzle: 16-byte chunk c of row r sits at chunk c ^ (r % 8) within its 1024-byte
// group of 8 rows (the layout wgmma's SW128 K-major descriptor describes).
[[maybe_unused]] __device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return uint32_t(row * 128 + ((chunk ^ (row % 8)) * 16));
}

// Shared-memory matrix descriptor: start >> 4, leading offset 1 (unused for SW128 K-major),
// stride 1024 bytes between 8-row groups, swizzle mode 1 (128B).
[[maybe_unused]] __device__ __forceinline__ uint64_t make_desc(uint32_t smem_byte_addr) {
  uint64_t d = 0;
  d |= uint64_t((smem_byte_addr >> 4) & 0x3fff);
  d |= uint64_t(1) << 16;
  d |= uint64_t(1024 >> 4) << 32;
  d |= uint64_t(1) << 62;
  return d;
}

#define PORTA_WG_REGS8(i)                                                                         \
  "+f"(c[i + 0]), "+f"(c[i + 1]), "+f"(c[i + 2]), "+f"(c[i + 3]), "+f"(c[i + 4]), "+f"(c[i + 5]), \
      "+f"(c[i + 6]), "+f"(c[i + 7])

template <bool kBF16>
__device__ __forceinline__ void wgmma_m64n128k16(float c[64], uint64_t da, uint64_t db) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if (kBF16)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,"
        "%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,"
        "%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, 1, 1, 1, 0, 0;\n"
        : PORTA_WG_REGS8(0), PORTA_WG_REGS8(8), PORTA_WG_REGS8(16), PORTA_WG_REGS8(24), PORTA_WG_REGS8(32),
          PORTA_WG_REGS8(40), PORTA_WG_REGS8(48), PORTA_WG_REGS8(56)
        : "l"(da), "l"(db));
  else
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,"
        "%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,"
        "%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, 1, 1, 1, 0, 0;\n"
        : PORTA_WG_REGS8(0), PORTA_WG_REGS8(8), PORTA_WG_REGS8(16), PORTA_WG_REGS8(24), PORTA_WG_REGS8(32),
          PORTA_WG_REGS8(40), PORTA_WG_REGS8(48), PORTA_WG_REGS8(56)
        : "l"(da), "l"(db));
#endif
}

template <bool kBF16>
__global__ void __launch_bounds__(kThreads) gemm_sm90_kernel(GemmDesc d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // SW128 tiles need 1024-byte alignment of each tile base.
  unsigned char* sm =
      reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
  const int tid = threadIdx.x, wg = tid / 128, lane = tid % 32, warp_in_wg = (tid % 128) / 32;
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  const int64_t lda = d.a.strides[2], ldb = d.b.strides[3];
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
      unsigned char* as = sm + stage * kStageBytes;
      unsigned char* bs = as + kTileBytes;
      for (int c = tid; c < 128 * 8; c += kThreads) {  // 128 rows x 8 chunks of 16 bytes
        const int row = c / 8, chunk = c % 8;
        const int64_t k = k0 + chunk * 8;
        const int64_t m = m0 + row, n = n0 + row;
        const bool oka = m < d.M && k < k_end, okb = n < d.N && k < k_end;
        cp_async16(smem_addr(as + swizzled(row, chunk)), oka ? A + m * lda + k : A, oka);
        cp_async16(smem_addr(bs + swizzled(row, chunk)), okb ? B + n * ldb + k : B, okb);
      }
    };

    float c[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) c[i] = 0.0f;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < ktiles) load_tile(s, s);
      cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; ++kt) {
      cp_async_wait<kStages - 2>();
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // cp.async data -> async proxy
      __syncthreads();
      if (kt + kStages - 1 < ktiles) load_tile(kt + kStages - 1, (kt + kStages - 1) % kStages);
      cp_async_commit();
      const unsigned char* as = sm + (kt % kStages) * kStageBytes;
      const unsigned char* bs = as + kTileBytes;
      // This warpgroup's 64 rows of A start at row 64*wg: 8 groups of 1024 bytes further.
      const uint32_t a_base = smem_addr(as + wg * 64 * 128), b_base = smem_addr(bs);
      asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk)  // 16 halves = 32 bytes further along K per step
        wgmma_m64n128k16<kBF16>(c, make_desc(a_base + kk * 32), make_desc(b_base + kk * 32));
      asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
      asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");  // stage reusable next time
    }
    cp_async_wait<0>();
    __syncthreads();

    // c[4i + e]: row 16*warp + lane/4 (+8 for e >= 2), column 8i + 2*(lane%4) + e%2.
#pragma unroll
    for (int i = 0; i < 16; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t m = m0 + wg * 64 + warp_in_wg * 16 + lane / 4 + (e / 2) * 8;
        const int64_t n = n0 + i * 8 + (lane % 4) * 2 + e % 2;
        if (m < d.M && n < d.N) gemm_store_or_partial(d, b, split, m, n, c[4 * i + e]);
      }
  }
#endif
}

template <bool kBF16>
int launch_variant(const GemmDesc& d, void* stream) {
  auto* kernel = gemm_sm90_kernel<kBF16>;
  constexpr int smem = kStages * kStageBytes + 1024;  // + alignment slack
  const pcError_t attr = pcFuncSetMaxDynamicSharedMemory(kernel, smem);
  if (attr != pcSuccess) return static_cast<int>(attr);
  const int64_t z = d.batch * d.splits;
  dim3 grid(static_cast<unsigned>((d.N + kBN - 1) / kBN), static_cast<unsigned>((d.M + kBM - 1) / kBM),
            static_cast<unsigned>(z < 65535 ? z : 65535));
  kernel<<<grid, kThreads, smem, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace

bool gemm_sm90_compiled() { return true; }

int launch_gemm_sm90(const GemmDesc& d, const GemmTile&, void* stream) {
  if (d.M == 0 || d.N == 0 || d.batch == 0) return 0;
  return d.a.dtype == kBF16 ? launch_variant<true>(d, stream) : launch_variant<false>(d, stream);
}

#else

bool gemm_sm90_compiled() { return false; }
int launch_gemm_sm90(const GemmDesc&, const GemmTile&, void*) { return 1; }

#endif

}  // namespace porta::cuda
