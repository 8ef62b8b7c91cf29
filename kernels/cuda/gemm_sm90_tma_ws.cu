// sm_90a GEMM (H100/H20): TMA loads + wgmma, warp-specialised and persistent (the shape of
// CUTLASS's "KernelTmaWarpSpecializedCooperative" with a persistent tile scheduler).
//
// CTA = 3 warpgroups (384 threads), one CTA per SM, grid = min(work units, SMs):
//   warpgroup 0, producer: gives registers back (setmaxnreg.dec 40); one thread walks the
//     CTA's work units and, for every BK = 64 slice of K, waits until ring slot s is empty,
//     arms full[s] with the slot's byte count (expect_tx) and issues the TMA loads of the
//     A tile (128 x 64) and the B tile (BN x 64) into slot s.
//   warpgroups 1 and 2, consumers: take registers (setmaxnreg.inc 232); each owns 64 rows of
//     the 128 x BN output tile (BN = 128 or 256, N/2 f32 accumulators per thread), waits
//     until full[s] completes, issues 4 wgmma m64nBNk16 on slot s, commits them as one group
//     and waits until at most that group is pending, i.e. the group of the previous slice
//     has finished reading its slot, which it then releases (arrives on empty[s-1]). So the
//     release of slot s-1 overlaps the MMAs of slot s, and the producer refills it while the
//     consumers work on later slots. After a unit's last slice: wait for all, release, run
//     the fused epilogue from registers, zero the accumulators, next unit.
//
// Ring protocol (kStages slots; iteration `it` counts the K slices a CTA has handled over
// all its units, identical in producer and consumers, so slot = it % kStages and use
// r = it / kStages of that slot):
//   full[s]:  count 1 (the producer's arrive.expect_tx) + the slot's TMA bytes; phase r
//             completes when use r's tiles have landed. Consumers wait parity r & 1.
//   empty[s]: count 256 (every consumer thread arrives once per use, after its wgmma that
//             read the slot is complete); phase r completes when use r is consumed. The
//             producer, before use r, waits for phase r - 1: parity (r & 1) ^ 1, which on the
//             fresh barrier (r = 0) returns at once.
//
// Shared memory per slot: A tile 128 rows x 128 bytes (16 KiB) then B tile (BN x 128 bytes),
// each written by TMA with CU_TENSOR_MAP_SWIZZLE_128B (16-byte chunk c of a 128-byte row r
// lands at chunk c ^ (r % 8)), which is exactly the layout the SW128 wgmma descriptors
// describe; slot bases are 1024-byte aligned (the swizzle atom).
//   B K-major ([N, K] weights): one box {64 K, BN rows}; descriptor like A's.
//   B N-major ([K, N]): BN/64 boxes {64 N, 64 K rows} of 8 KiB side by side; the MN-major
//   descriptor (transpose-b = 1) steps 8192 bytes between 64-column blocks (LBO) and 1024
//   bytes between 8-row K groups (SBO).
// Work units (gemm_schedule.h): (batch, K split, tile_m, tile_n), tiles of one slab visited
// in groups of 8 tile rows (grouped raster) so the CTAs running together share A and B
// tiles in L2. Split-K units write f32 partials that gemm_reduce finishes.
// Out-of-range rows/columns/K of a box are zero-filled by TMA, so edges need no masking in
// the main loop; the epilogue skips rows >= M and columns >= N.
//
// Status: written without a GPU at hand; unvalidated until the conformance suite has run
// with it on an H100 (docs/cuda-backend.md).
#include "gemm_epilogue.cuh"
#include "gemm_schedule.h"
#include "gemm_tiles.h"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "sm90_mbarrier.cuh"
#include "sm90_tma.cuh"
#include "sm90_wgmma.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

using namespace sm90;

constexpr int kBM = 128, kBK = 64;
constexpr int kThreads = 384;                           // producer warpgroup + 2 consumer warpgroups
[[maybe_unused]] constexpr int kConsumerThreads = 256;  // arrivals per empty[s] phase
[[maybe_unused]] constexpr int kProducerRegs = 40, kConsumerRegs = 232;  // 128*40 + 256*232 <= 65536
[[maybe_unused]] constexpr int kGroupRows = 8;  // grouped raster: tile rows per group (gemm_schedule.h)

/// Slots of the ring per BN: (128 + BN) * 128 bytes each, 192 KiB in all (227 KiB max).
template <int BN>
constexpr int stages_for() {
  return BN == 256 ? 4 : 6;
}
template <int BN>
constexpr int smem_bytes() {
  return stages_for<BN>() * (kBM + BN) * kBK * 2 + 2 * stages_for<BN>() * 8 + 1024;  // + barriers, alignment
}

// Both instances match their rows (stages: ring slots per BN).
static_assert(same_tile(gemm_tile_sm90(256), GemmTile{kBM, 256, kBK, 2, 1, stages_for<256>()}) &&
                  same_tile(gemm_tile_sm90(128), GemmTile{kBM, 128, kBK, 2, 1, stages_for<128>()}),
              "gemm_tiles.h's sm90 rows and gemm_sm90_tma_ws_kernel disagree");

template <int BN, bool kBF16, bool kBKMajor>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_sm90_tma_ws_kernel(const GemmDesc d, const __grid_constant__ TmaMap map_a,
                            const __grid_constant__ TmaMap map_b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kStages = stages_for<BN>();
  constexpr uint32_t kABytes = kBM * kBK * 2, kBBytes = BN * kBK * 2, kSlotBytes = kABytes + kBBytes;
  static_assert(kABytes % 1024 == 0 && kBBytes % 1024 == 0, "slots must keep 1024-byte alignment");

  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem =
      reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kStages * kSlotBytes);
  uint64_t* empty = full + kStages;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], kConsumerThreads);
    }
    mbar_fence_init();
  }
  __syncthreads();  // the last block-wide barrier: the roles below never meet again

  const int64_t tiles_m = (d.M + kBM - 1) / kBM, tiles_n = (d.N + BN - 1) / BN;
  const int64_t units = tiles_m * tiles_n * d.batch * d.splits;
  const int wg = threadIdx.x / 128;

  if (wg == 0) {
    // ---- producer ----
    setmaxnreg_dec<kProducerRegs>();
    if (threadIdx.x != 0) return;
    tma_prefetch_map(&map_a);
    tma_prefetch_map(&map_b);
    // Broadcast operands (batch stride 0) have a batch extent of 1 in their map.
    const bool a_batched = d.a.strides[1] != 0, b_batched = d.b.strides[1] != 0;
    uint32_t it = 0;
    for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
      const GemmUnit w = gemm_unit_at(u, d.M, d.N, d.K, d.splits, kBM, BN, kBK, kGroupRows);
      const int32_t m0 = int32_t(w.m0), n0 = int32_t(w.n0);
      const int32_t ba = a_batched ? int32_t(w.b) : 0, bb = b_batched ? int32_t(w.b) : 0;
      for (int kt = 0; kt < w.ktiles; ++kt, ++it) {
        const uint32_t s = it % kStages, use = it / kStages;
        mbar_wait(&empty[s], (use & 1) ^ 1);
        mbar_arrive_expect_tx(&full[s], kSlotBytes);
        unsigned char* a_tile = smem + s * kSlotBytes;
        unsigned char* b_tile = a_tile + kABytes;
        const int32_t k = int32_t(w.k0 + int64_t(kt) * kBK);
        tma_load_3d(a_tile, &map_a, &full[s], k, m0, ba);  // A map: (K, M, batch)
        if (kBKMajor) {
          tma_load_3d(b_tile, &map_b, &full[s], k, n0, bb);  // B map: (K, N, batch), box {64, BN}
        } else {
#pragma unroll
          for (int j = 0; j < BN / 64; ++j)  // B map: (N, K, batch), box {64, 64}
            tma_load_3d(b_tile + j * 8192, &map_b, &full[s], n0 + 64 * j, k, bb);
        }
      }
    }
    return;
  }

  // ---- consumers ----
  setmaxnreg_inc<kConsumerRegs>();
  const int cw = wg - 1;  // which 64-row half of the tile
  const int t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
  const bool pairs = gemm_pairs_ok(d);
  float c[BN / 2];
  uint32_t it = 0;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const GemmUnit w = gemm_unit_at(u, d.M, d.N, d.K, d.splits, kBM, BN, kBK, kGroupRows);
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) c[i] = 0.0f;
    wgmma_fence_operands(c);
    for (int kt = 0; kt < w.ktiles; ++kt, ++it) {
      const uint32_t s = it % kStages, use = it / kStages;
      mbar_wait(&full[s], use & 1);
      // This warpgroup's 64 rows of A start 64 rows (8 swizzle atoms, 8192 bytes) in.
      const uint32_t a_base = smem_u32(smem + s * kSlotBytes) + cw * 64 * 128;
      const uint32_t b_base = smem_u32(smem + s * kSlotBytes + kABytes);
      wgmma_fence_operands(c);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk) {
        const uint64_t da = desc_kmajor_sw128(a_base + kk * 32);  // 16 elements = 32 bytes along K
        const uint64_t db = kBKMajor ? desc_kmajor_sw128(b_base + kk * 32)
                                     : desc_mnmajor_sw128(b_base + kk * 16 * 128, 8192);  // 16 K rows
        wgmma_m64k16<BN, kBF16, !kBKMajor>(c, da, db);
      }
      wgmma_commit();
      wgmma_wait<1>();  // the previous slice's group is complete: its slot is free
      wgmma_fence_operands(c);
      if (kt > 0) mbar_arrive(&empty[(it - 1) % kStages]);
    }
    wgmma_wait<0>();
    wgmma_fence_operands(c);
    if (w.ktiles > 0) mbar_arrive(&empty[(it - 1) % kStages]);

    // Epilogue from registers: c[4i + e] is row 16*warp + lane/4 + 8*(e/2), column
    // 8i + 2*(lane%4) + e%2 of this warpgroup's 64 x BN block (sm90_wgmma.cuh).
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t m = w.m0 + cw * 64 + warp * 16 + lane / 4 + h * 8;
      if (m >= d.M) continue;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
        const int64_t n = w.n0 + i * 8 + (lane % 4) * 2;
        gemm_store_pair(d, w.b, w.split, m, n, c[4 * i + 2 * h], c[4 * i + 2 * h + 1], pairs);
      }
    }
  }
#elif defined(__CUDA_ARCH__)
  // Not sm_90a code (the sm_80 SASS or the compute_90 PTX of this file): the host selects this
  // kernel only when the build has sm_90a SASS (PORTA_CUDA_SM90A_SASS), so getting here means a
  // forced PTX JIT; fail loudly instead of leaving C unwritten.
  __trap();
#endif
}

template <int BN, bool kBF16, bool kBKMajor>
int launch_variant(const GemmDesc& d, const GemmSm90Maps& maps, void* stream) {
  auto* kernel = gemm_sm90_tma_ws_kernel<BN, kBF16, kBKMajor>;
  constexpr int smem = smem_bytes<BN>();
  const pcError_t attr = pcFuncSetMaxDynamicSharedMemory(kernel, smem);
  if (attr != pcSuccess) return static_cast<int>(attr);
  kernel<<<dim3(static_cast<unsigned>(maps.ctas)), kThreads, smem, static_cast<pcStream_t>(stream)>>>(
      d, maps.a, maps.b);
  return static_cast<int>(pcGetLastError());
}

template <int BN>
int launch_bn(const GemmDesc& d, const GemmSm90Maps& maps, void* stream) {
  const bool bf16 = d.a.dtype == kBF16;
  if (d.b_kmajor)
    return bf16 ? launch_variant<BN, true, true>(d, maps, stream)
                : launch_variant<BN, false, true>(d, maps, stream);
  return bf16 ? launch_variant<BN, true, false>(d, maps, stream)
              : launch_variant<BN, false, false>(d, maps, stream);
}

}  // namespace

// True only when this build carries sm_90a SASS (CMake defines PORTA_CUDA_SM90A_SASS when
// CMAKE_CUDA_ARCHITECTURES lists 90a): the compute_90 PTX of this file has no kernel body.
bool gemm_sm90_compiled() {
#if defined(PORTA_CUDA_SM90A_SASS)
  return true;
#else
  return false;
#endif
}

// The host (ops_gemm.cpp) has encoded maps matching t.block_n and d.b_kmajor
// (gemm_tma_specs in tma_map.cpp) and chosen maps.ctas.
int launch_gemm_sm90(const GemmDesc& d, const GemmTile& t, const GemmSm90Maps& maps, void* stream) {
  const bool wide = same_tile(t, gemm_tile_sm90(256));
  if (!wide && !same_tile(t, gemm_tile_sm90(128))) return kTileMismatch;
  if (d.M == 0 || d.N == 0 || d.batch == 0) return 0;
  return wide ? launch_bn<256>(d, maps, stream) : launch_bn<128>(d, maps, stream);
}

#else

bool gemm_sm90_compiled() { return false; }
int launch_gemm_sm90(const GemmDesc&, const GemmTile&, const GemmSm90Maps&, void*) { return 1; }

#endif

}  // namespace porta::cuda
