// Paged attention prefill with tensor cores (sm_80+; also runs on sm_90): attention_sm80_mma.cu's
// FlashAttention-2 scheme with block-table address translation. One CTA of 4 warps owns 64 query
// rows (positions) of one (sequence, query head), each warp 16 rows. Per key tile: K and V rows
// are copied by cp.async (two stages, the next tile's copy overlapping this tile's math), each
// row's address translated through the sequence's block table (a key's block is key / block_size,
// its slot key % block_size; rows whose block id is outside [0, num_blocks), and rows outside
// the CTA's visible keys, are zero-filled and their keys masked, so NaN in unused slots stays out);
// S = Q·Kᵀ with mma.sync.m16n8k16, online softmax on the accumulators (base 2), P re-packed in
// registers as the A operand of O += P·V. Visible keys per row as porta/serving.h states (causal
// from the row's position len - qlen + i, sliding window), LSE from (m, l) at the end.
// The host sends only plain f16/bf16 caches of q's dtype with 16-byte aligned rows, max_seqlen_q
// >= 16 (ops_paged.cpp, paged_plan.h). Status: compiled for sm_80 / sm_90a, never run on a GPU.
#include "device_common.cuh"
#include "paged_args.h"
#include "paged_common.cuh"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "fa2_sm80_tile.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

using namespace sm80;

constexpr int kWarps = 4, kThreads = 32 * kWarps, kBQ = 16 * kWarps, kStages = 2;

// Mirrored by paged_prefill_sm80_smem_bytes (paged_plan.cpp).
template <int kD>
struct PagedFa2Tiles {
  // CTAs per SM the register budget must allow (ptxas's cap: 65536 / (128 kMinBlocks)): three
  // up to D = 80; two above, where a 168-register cap spilled (D = 96 on sm_80).
  static constexpr int kMinBlocks = kD <= 80 ? 3 : 2;
  static constexpr int kBKV = kD > 128 ? 32 : 64;  // keys per tile
  static constexpr int kPitch = kD + 8;            // padded row: ldmatrix phases hit distinct banks
  static constexpr size_t kSmemBytes =
      sizeof(uint16_t) * size_t(kPitch) * (kBQ + 2 * kStages * kBKV) + size_t(kStages) * kBKV;
};

template <bool kBF16, int kD>
__global__ void __launch_bounds__(kThreads, PagedFa2Tiles<kD>::kMinBlocks)
    paged_prefill_sm80_kernel(PagedAttnDesc d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using T = PagedFa2Tiles<kD>;
  constexpr int kBKV = T::kBKV, kPitch = T::kPitch;
  constexpr int kDT = kD / 8;      // O n-tiles
  constexpr int kChunks = kD / 8;  // 16-byte chunks per row
  extern __shared__ __align__(16) uint16_t sm[];
  uint16_t* Qs = sm;                            // [kBQ][kPitch]
  uint16_t* Ks = Qs + kBQ * kPitch;             // [kStages][kBKV][kPitch]
  uint16_t* Vs = Ks + kStages * kBKV * kPitch;  // [kStages][kBKV][kPitch]
  unsigned char* oks = reinterpret_cast<unsigned char*>(Vs + kStages * kBKV * kPitch);  // [kStages][kBKV]
  const PagedCacheDesc& C = d.cache;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq;
  const int64_t hk = h / (d.Hq / C.Hkv);
  const float neg_inf = -__int_as_float(0x7f800000);
  const SeqBounds sb = seq_bounds(d, b, d.max_k);
  // Causal tiles at the end of a sequence see the most keys: start them first.
  const int q0 = int(gridDim.x - 1 - blockIdx.x) * kBQ;
  if (q0 >= sb.qlen) return;  // the whole CTA
  const int len = sb.len, qlen = sb.qlen, last = min(q0 + kBQ, qlen) - 1;

  // Keys any row of the CTA sees: [lo(q0), hi(last)) (both bounds grow with the position).
  int lo_first, hi_first, lo_last, hi_last;
  paged_key_range(d, len, qlen, q0, lo_first, hi_first);
  paged_key_range(d, len, qlen, last, lo_last, hi_last);
  const int k_begin = lo_first / kBKV * kBKV, k_end = hi_last;
  const int tiles = k_end > k_begin ? (k_end - k_begin + kBKV - 1) / kBKV : 0;

  const uint16_t* Q = reinterpret_cast<const uint16_t*>(d.q) + h * d.q_st[1];
  for (int c = tid; c < kBQ * kChunks; c += kThreads) {
    const int row = c / kChunks, col = (c % kChunks) * 8;
    const bool ok = q0 + row < qlen;
    const int64_t tok = sb.c0 + int64_t(q0) + row;
    cp_async16(smem_addr(Qs + row * kPitch + col), ok ? Q + tok * d.q_st[0] + col : Q, ok);
  }
  const uint16_t* K = reinterpret_cast<const uint16_t*>(C.k.ptr) + hk * C.k.s_head;
  const uint16_t* V = reinterpret_cast<const uint16_t*>(C.v.ptr) + hk * C.v.s_head;
  auto load_kv = [&](int k0, int stage) {
    uint16_t* ks = Ks + stage * kBKV * kPitch;
    uint16_t* vs = Vs + stage * kBKV * kPitch;
    for (int c = tid; c < kBKV * kChunks; c += kThreads) {
      const int row = c / kChunks, col = (c % kChunks) * 8, key = k0 + row;
      int bid = -1, slot = 0;
      if (key < k_end && key >= lo_first) {  // below every row's window: zero-filled, masked
        const int blk = key / C.block_size;
        slot = key - blk * C.block_size;
        if (blk < d.max_blocks) bid = idx32(d.tables, b * d.tab_st[0] + int64_t(blk) * d.tab_st[1]);
      }
      const bool ok = bid >= 0 && bid < C.num_blocks;  // else zero-filled, and masked below
      const int64_t ko = int64_t(bid) * C.k.s_blk + int64_t(slot) * C.k.s_slot + col;
      const int64_t vo = int64_t(bid) * C.v.s_blk + int64_t(slot) * C.v.s_slot + col;
      cp_async16(smem_addr(ks + row * kPitch + col), ok ? K + ko : K, ok);
      cp_async16(smem_addr(vs + row * kPitch + col), ok ? V + vo : V, ok);
      if (col == 0) oks[stage * kBKV + row] = ok ? 1 : 0;
    }
  };
  if (tiles > 0) load_kv(k_begin, 0);
  cp_async_commit();  // group: Q and the first K/V tile

  const float sl2 = d.scale * 1.4426950408889634f;  // exp(x * scale) = exp2(x * sl2)
  float o[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m[2] = {neg_inf, neg_inf}, l[2] = {0.0f, 0.0f};  // rows g and g + 8 of this warp
  const int row_i[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
  int lo[2], hi[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    paged_key_range(d, len, qlen, row_i[r], lo[r], hi[r]);
    if (row_i[r] >= qlen) lo[r] = hi[r] = 0;
  }

  for (int it = 0; it < tiles; ++it) {
    const int stage = it % kStages, k0 = k_begin + it * kBKV;
    __syncthreads();  // everyone is done with the stage the next prefetch overwrites
    if (it + 1 < tiles) load_kv(k0 + kBKV, (it + 1) % kStages);
    cp_async_commit();
    cp_async_wait<1>();  // this tile (and Q) landed
    __syncthreads();     // ... for every thread, with its block-validity flags
    const uint16_t* ks = Ks + stage * kBKV * kPitch;
    const uint16_t* vs = Vs + stage * kBKV * kPitch;
    const unsigned char* okv = oks + stage * kBKV;

    fa2_tile<kBF16, kD, kBKV, kPitch>(
        Qs + warp * 16 * kPitch, ks, vs, lane, sl2,
        [&](int r, int kl) { return k0 + kl >= lo[r] && k0 + kl < hi[r] && okv[kl]; }, o, m, l);
  }
  cp_async_wait<0>();

  // out = O / l (a row that saw no key is zero); LSE = m ln 2 + ln l (-inf without keys).
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (row_i[r] >= qlen) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    const int64_t tok = sb.c0 + int64_t(row_i[r]);
    const int64_t oo = tok * d.o_st[0] + h * d.o_st[1];
#pragma unroll
    for (int i = 0; i < kDT; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e)
        store_f(d.out, d.dt, oo + int64_t(i * 8 + 2 * t + e) * d.o_st[2], o[i][r * 2 + e] * inv);
    if (d.lse && t == 0)
      d.lse[tok * d.lse_st[0] + h * d.lse_st[1]] =
          l[r] > 0.0f ? m[r] * 0.6931471805599453f + logf(l[r]) : neg_inf;
  }
#endif
}

template <bool kBF16, int kD>
int launch_variant(const PagedAttnDesc& d, void* stream) {
  auto* kernel = paged_prefill_sm80_kernel<kBF16, kD>;
  constexpr size_t smem = PagedFa2Tiles<kD>::kSmemBytes;
  const pcError_t attr = pcFuncSetMaxDynamicSharedMemory(kernel, int(smem));
  if (attr != pcSuccess) return static_cast<int>(attr);
  dim3 grid(static_cast<unsigned>((d.max_q + kBQ - 1) / kBQ), static_cast<unsigned>(d.B * d.Hq));
  kernel<<<grid, kThreads, smem, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

template <bool kBF16>
int launch_dtype(const PagedAttnDesc& d, void* stream) {
  switch (d.cache.D) {
    case 64: return launch_variant<kBF16, 64>(d, stream);
    case 80: return launch_variant<kBF16, 80>(d, stream);
    case 96: return launch_variant<kBF16, 96>(d, stream);
    case 128: return launch_variant<kBF16, 128>(d, stream);
    case 256: return launch_variant<kBF16, 256>(d, stream);
    default: return static_cast<int>(pcErrorInvalidDeviceFunction);  // core admits only these
  }
}

}  // namespace

bool paged_prefill_sm80_compiled() { return true; }

int launch_paged_prefill_sm80(const PagedAttnDesc& d, void* stream) {
  if (d.B == 0 || d.Hq == 0 || d.max_q == 0) return 0;
  if (d.B * d.Hq > 65535) return static_cast<int>(pcErrorInvalidDeviceFunction);  // the host sends <= 65535
  return d.dt == kBF16 ? launch_dtype<true>(d, stream) : launch_dtype<false>(d, stream);
}

#else  // a dialect without NVIDIA PTX: the host never selects this path

bool paged_prefill_sm80_compiled() { return false; }
int launch_paged_prefill_sm80(const PagedAttnDesc&, void*) { return 1; }

#endif

}  // namespace porta::cuda
