// FlashAttention-3-style prefill for sm_90a (H100/H20). One CTA = 3 warpgroups and one
// 128-row query tile of one (batch, head):
//   warpgroup 0 (producer, 40 registers): copies Q once, then K and V tiles into a 2-3 stage
//     ring with 16-byte cp.async, announcing each stage on its `full` mbarrier through
//     cp.async.mbarrier.arrive (the arrival fires when the thread's copies have landed);
//   warpgroups 1, 2 (consumers, 232 registers): 64 query rows each. Per key tile:
//     S = Q·Kᵀ by wgmma (both operands from shared memory, K-major), online softmax on the
//     accumulators in registers (base 2, the scale prescaled by log2(e)), P converted in
//     registers to the A fragment of O += P·V (wgmma RS form, V N-major via the transpose
//     bit), then an arrival on the stage's `empty` mbarrier hands it back to the producer.
//     With 3 stages P·V of tile j runs under the softmax of tile j+1 (FA3's intra-warpgroup
//     overlap).
// The two consumer warpgroups take turns issuing their MMAs (ping-pong on named barriers), so
// one's softmax overlaps the other's MMAs.
// Why cp.async rather than TMA: porta tensors are strided 4-D views and kv_lens/causal bound
// every tile; a per-thread copy with a zero-fill predicate takes any 16-byte-aligned stride,
// needs no driver entry point (cuTensorMapEncodeTiled) in a module that must load without a
// driver, and writes the 128B-swizzled layout directly.
// Semantics match attention_sm80_mma.cu: causal aligned to the KV end, ragged kv_lens, GQA by
// head index, rows that see no key are zero. Head dims 64, 128, 256; f16/bf16 in, any out.
// Status: unvalidated, never run on a GPU (see docs/cuda-backend.md).
#include "device_common.cuh"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "attention_sm90_layout.cuh"
#include "mma_sm80.cuh"
#include "sm90_mbarrier.cuh"
#include "sm90_sync.cuh"
#include "sm90_wgmma.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

using namespace attn90;  // tile layout (sw128_offset, k16 steps)
using namespace sm90;    // mbarriers, named barriers, wgmma, setmaxnreg, descriptors

constexpr int kBQ = 128;                            // query rows per CTA (64 per consumer warpgroup)
constexpr int kThreads = 384;                       // producer + 2 consumer warpgroups
[[maybe_unused]] constexpr int kProducerRegs = 40;  // 128 * 40 + 256 * 232 = 64512 <= 65536 registers
[[maybe_unused]] constexpr int kConsumerRegs = 232;

// Per head dim (mirrored by attn_sm90_tiles in attention_plan.cpp): D <= 128 runs 128-key
// tiles through 3 stages (D=128: 32 + 3 x 64 KiB), D = 256 64-key tiles through 2 (64 + 2 x 64).
// With 3 stages a consumer overlaps P·V of one tile with the softmax of the next (each stage
// is released one tile later, which the third stage absorbs); with 2 it waits at once.
template <int kD>
struct Fa3Tiles {
  static constexpr int kBKV = kD > 128 ? 64 : 128;  // keys per tile
  static constexpr int kStages = kD > 128 ? 2 : 3;
  static constexpr uint32_t kQBytes = uint32_t(kBQ) * kD * 2;
  static constexpr uint32_t kKVBytes = uint32_t(kBKV) * kD * 2;  // one K or one V tile
  // Q, then per stage K and V, then the mbarriers (q_full, full[kStages], empty[kStages]).
  static constexpr uint32_t kBarOffset = kQBytes + 2 * kStages * kKVBytes;
  static constexpr size_t kSmemBytes = kBarOffset + 64 + 1024;  // + slack for 1024 alignment
};

template <bool kBF16, int kD>
__global__ void __launch_bounds__(kThreads, 1) attention_sm90_kernel(AttentionDesc d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = Fa3Tiles<kD>;
  constexpr int kBKV = T::kBKV, kStages = T::kStages;
  constexpr bool kPipelined = kStages >= 3;  // see Fa3Tiles and the consumer loop
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // SW128 tiles need 1024-byte aligned bases (the descriptors' base offset is 0).
  unsigned char* sm =
      reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
  const uint32_t q_s = smem_u32(sm);
  const uint32_t k_s = q_s + T::kQBytes;     // stage s at k_s + s * 2 * kKVBytes
  const uint32_t bar = q_s + T::kBarOffset;  // 8 bytes each
  const uint32_t q_full = bar, full0 = bar + 8, empty0 = bar + 8 + 8 * kStages;
  auto k_stage = [&](int s) { return k_s + uint32_t(s) * 2 * T::kKVBytes; };
  auto v_stage = [&](int s) { return k_stage(s) + T::kKVBytes; };

  const int tid = threadIdx.x, wg = tid / 128;
  // Causal tiles at the end of the sequence do the most work: start them first.
  const int64_t q0 = int64_t(gridDim.x - 1 - blockIdx.x) * kBQ;
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);

  int64_t len = d.Skv;
  if (d.kv_lens.ptr) {
    const int64_t v = reinterpret_cast<const int32_t*>(d.kv_lens.ptr)[b * d.kv_lens.strides[3]];
    len = v < 0 ? 0 : v > d.Skv ? d.Skv : v;
  }
  // Keys this CTA needs: all of `len`, or up to the causal limit of its last row.
  int64_t k_end = len;
  if (d.causal) {
    const int64_t last = (q0 + kBQ < d.Sq ? q0 + kBQ : d.Sq) - 1;
    int64_t lim = last + len - d.Sq + 1;
    lim = lim < 0 ? 0 : lim;
    if (lim < k_end) k_end = lim;
  }
  const int tiles = int((k_end + kBKV - 1) / kBKV);

  if (tid == 0) {
    mbar_init(q_full, 128);  // one cp.async arrival per producer thread
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full0 + 8 * s, 128);
      mbar_init(empty0 + 8 * s, 256);  // every consumer thread releases the stage
    }
    mbar_fence_init();
  }
  __syncthreads();

  if (wg == 0) {
    // ---- producer ----
    setmaxnreg_dec<kProducerRegs>();
    const int ptid = tid;  // 0..127
    const uint16_t* Q = reinterpret_cast<const uint16_t*>(d.q.ptr) + b * d.q.strides[0] + h * d.q.strides[1];
    const uint16_t* K = reinterpret_cast<const uint16_t*>(d.k.ptr) + b * d.k.strides[0] + hk * d.k.strides[1];
    const uint16_t* V = reinterpret_cast<const uint16_t*>(d.v.ptr) + b * d.v.strides[0] + hk * d.v.strides[1];
    constexpr int kChunks = kD / 8;  // 16-byte chunks per row
    // Rows past the end are zero-filled: a zero V row times p = 0 stays 0 (garbage could be NaN).
    for (int c = ptid; c < kBQ * kChunks; c += 128) {
      const int row = c / kChunks, col = (c % kChunks) * 8;
      const bool ok = q0 + row < d.Sq;
      sm80::cp_async16(q_s + sw128_offset(kBQ, row, col), ok ? Q + (q0 + row) * d.q.strides[2] + col : Q, ok);
    }
    cp_async_arrive_noinc(q_full);
    for (int it = 0; it < tiles; ++it) {
      const int s = it % kStages;
      // Tile it reuses the stage of tile it - kStages: wait for that tile's release, which
      // completes phase it/kStages - 1 of the stage's empty barrier.
      if (it >= kStages) mbar_wait(empty0 + 8 * s, uint32_t((it / kStages - 1) & 1));
      const int64_t k0 = int64_t(it) * kBKV;
      const uint32_t ks = k_stage(s), vs = v_stage(s);
      for (int c = ptid; c < kBKV * kChunks; c += 128) {
        const int row = c / kChunks, col = (c % kChunks) * 8;
        const bool ok = k0 + row < k_end;
        const uint32_t off = sw128_offset(kBKV, row, col);
        sm80::cp_async16(ks + off, ok ? K + (k0 + row) * d.k.strides[2] + col : K, ok);
        sm80::cp_async16(vs + off, ok ? V + (k0 + row) * d.v.strides[2] + col : V, ok);
      }
      cp_async_arrive_noinc(full0 + 8 * s);
    }
    cp_async_wait_all();  // nothing in flight when the warpgroup exits
    return;
  }

  // ---- consumers ----
  setmaxnreg_inc<kConsumerRegs>();
  const int cw = wg - 1;  // consumer index: rows 64*cw..
  const int warp = (tid % 128) / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const float neg_inf = -__int_as_float(0x7f800000);
  const float sl2 = d.scale * 1.4426950408889634f;  // exp(x*scale) = exp2(x*sl2)

  // Accumulator layout of wgmma m64nN (f32): register 4i + e of this thread holds row
  // 16*warp + g + 8*(e/2) of the warpgroup's 64, column 8i + 2t + (e % 2).
  float o[kD / 2];
#pragma unroll
  for (int i = 0; i < kD / 2; ++i) o[i] = 0.0f;
  float m[2] = {neg_inf, neg_inf}, l[2] = {0.0f, 0.0f};
  const int64_t row_q[2] = {q0 + 64 * cw + 16 * warp + g, q0 + 64 * cw + 16 * warp + g + 8};
  int64_t row_lim[2];  // keys [0, row_lim) are visible to the row
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    int64_t lim = len;
    if (d.causal) {
      lim = row_q[r] + len - d.Sq + 1;
      lim = lim < 0 ? 0 : lim > len ? len : lim;
    }
    row_lim[r] = lim;
  }
  const int64_t lim_min = row_lim[0] < row_lim[1] ? row_lim[0] : row_lim[1];

  // This warpgroup's 64 Q rows start 64 rows (8 KiB, a multiple of 1024) into each column block.
  const uint32_t q_rows = q_s + uint32_t(cw) * 64 * 128;
  mbar_wait(q_full, 0);

  // S = Q·Kᵀ for one key tile: K = D in 16-wide steps (kmajor_step: column block kk/4, 32
  // bytes per step). Issue only; the caller fences, commits and waits.
  auto issue_s = [&](float(&sc)[kBKV / 2], uint32_t ks) {
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk)
      wgmma_m64k16<kBKV, kBF16, false>(sc, desc_kmajor_sw128(kmajor_step(q_rows, kBQ, kk)),
                                       desc_kmajor_sw128(kmajor_step(ks, kBKV, kk)));
  };
  // O += P·V, K = keys in 16-wide steps. The A fragment of step j (m16n8k16 layout per warp:
  // {row g, keys 2t..}, {row g+8, keys 2t..}, {row g, keys 8+2t..}, {row g+8, keys 8+2t..})
  // is exactly the accumulators of S column groups 2j and 2j+1 (see pack_p). V step j starts
  // 16 rows (2048 bytes) further; its column blocks are kBKV*128 bytes apart (the LBO).
  auto issue_pv = [&](const uint32_t(&pa)[kBKV / 16][4], uint32_t vs) {
#pragma unroll
    for (int j = 0; j < kBKV / 16; ++j)
      wgmma_m64k16_rs<kD, kBF16, true>(o, pa[j], desc_mnmajor_sw128(mnmajor_step(vs, j), kBKV * 128));
  };
  // Online softmax over one tile, in place (S -> P); element (i, e) is key k0 + 8i + 2t + e%2
  // of row r = e/2. Returns the factors the old O must be scaled by.
  auto softmax = [&](float(&sc)[kBKV / 2], int64_t k0, float(&corr)[2]) {
    const bool mask = k0 + kBKV > lim_min;  // only tiles crossing a row's limit need the test
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = neg_inf;
#pragma unroll
      for (int i = 0; i < kBKV / 8; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& v = sc[4 * i + 2 * r + e];
          v *= sl2;
          if (mask && k0 + 8 * i + 2 * t + e >= row_lim[r]) v = neg_inf;
          mx = fmaxf(mx, v);
        }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));  // the row's 4 lanes (a quad)
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      const float base = m_new == neg_inf ? 0.0f : m_new;  // nothing visible yet: p = 0
      corr[r] = exp2f(m[r] - base);                        // m = -inf: 0
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < kBKV / 8; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& v = sc[4 * i + 2 * r + e];
          v = exp2f(v - base);
          sum += v;
        }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      l[r] = l[r] * corr[r] + sum;
      m[r] = m_new;
    }
  };
  auto rescale_o = [&](const float(&corr)[2]) {
#pragma unroll
    for (int i = 0; i < kD / 8; ++i) {
      o[4 * i] *= corr[0], o[4 * i + 1] *= corr[0];
      o[4 * i + 2] *= corr[1], o[4 * i + 3] *= corr[1];
    }
  };
  // P as f16/bf16 A fragments, all packed before the next wgmma fence: registers written
  // between the wgmmas of one batch would make ptxas serialise them (C7519).
  auto pack_p = [&](const float(&sc)[kBKV / 2], uint32_t(&pa)[kBKV / 16][4]) {
#pragma unroll
    for (int j = 0; j < kBKV / 16; ++j) {
      pa[j][0] = sm80::pack2<kBF16>(sc[8 * j], sc[8 * j + 1]);
      pa[j][1] = sm80::pack2<kBF16>(sc[8 * j + 2], sc[8 * j + 3]);
      pa[j][2] = sm80::pack2<kBF16>(sc[8 * j + 4], sc[8 * j + 5]);
      pa[j][3] = sm80::pack2<kBF16>(sc[8 * j + 6], sc[8 * j + 7]);
    }
  };

  // kPipelined (3 stages): tile it issues S(it) and then P·V(it-1) as two wgmma groups, waits
  // only for S (wait_group 1) and runs softmax(it) while P·V(it-1) is on the tensor cores; then
  // waits for it, releases stage it-1, rescales O and packs P(it) for the next round. The
  // third stage covers the later release. Otherwise (2 stages, D = 256) every tile waits for
  // its own P·V and releases its stage at once.
  // Ping-pong (FA3): the two consumers take turns issuing their wgmma batches, so one's
  // softmax runs while the other's GEMMs occupy the tensor cores. Named barrier 1 + cw is
  // consumer cw's turn: its 128 threads sync on it and the other consumer's 128 arrive on it
  // after issuing. Both take the same number of turns; consumer 1 opens consumer 0's first
  // turn and skips the arrival after its own last one, so every sync meets exactly one
  // arrival and no barrier is left half-arrived at exit.
  const int turns = tiles == 0 ? 0 : kPipelined ? tiles + 1 : 2 * tiles;
  int turn = 0;
  auto turn_begin = [&] { named_bar_sync(1 + cw, 256); };
  auto turn_end = [&] {
    ++turn;
    if (!(cw == 1 && turn == turns)) named_bar_arrive(2 - cw, 256);  // the other's barrier
  };
  if (cw == 1 && turns > 0) named_bar_arrive(1, 256);

  float sc[kBKV / 2];
  uint32_t pa[kBKV / 16][4];
  float corr[2];
  // Keeps the compiler from moving accesses of the wgmma registers across the fences and
  // waits (sm90_wgmma.cuh): before each wgmma_fence and after each completed wait.
  auto fence_all = [&] {
    wgmma_fence_operands(sc);
    wgmma_fence_operands(o);
    wgmma_fence_operands(pa);
  };
  // Opens a turn with S(it) issued and committed (the caller may add to the batch, then
  // ends the turn): waits for the stage, zeroes the accumulators, fences, issues.
  auto start_s = [&](int it) {
    const int s = it % kStages;
    mbar_wait(full0 + 8 * s, uint32_t((it / kStages) & 1));
    fence_proxy_async_smem();
#pragma unroll
    for (int i = 0; i < kBKV / 2; ++i) sc[i] = 0.0f;
    turn_begin();
    fence_all();
    wgmma_fence();  // orders this thread's writes of sc, pa and o before the wgmmas
    issue_s(sc, k_stage(s));
    wgmma_commit();
  };
  if constexpr (kPipelined) {
    // Straight-line steady state (ptxas serialises wgmmas whose waits it cannot pair across
    // branches): tile 0 alone, then S(it) + P·V(it-1), then P·V of the last tile.
    if (tiles > 0) {
      start_s(0);
      turn_end();
      wgmma_wait<0>();
      fence_all();
      softmax(sc, 0, corr);  // o is still zero: no rescale
      pack_p(sc, pa);
    }
    for (int it = 1; it < tiles; ++it) {
      const int prev = (it - 1) % kStages;
      start_s(it);
      issue_pv(pa, v_stage(prev));
      wgmma_commit();
      turn_end();
      wgmma_wait<1>();  // S(it) has landed; P·V(it-1) may still run under the softmax
      wgmma_fence_operands(sc);
      softmax(sc, int64_t(it) * kBKV, corr);
      wgmma_wait<0>();  // P·V(it-1): o and pa are ours again
      fence_all();
      mbar_arrive(empty0 + 8 * prev);  // this thread's reads of stage it-1 are complete
      rescale_o(corr);
      pack_p(sc, pa);
    }
    if (tiles > 0) {
      const int last = (tiles - 1) % kStages;
      turn_begin();
      fence_all();
      wgmma_fence();
      issue_pv(pa, v_stage(last));
      wgmma_commit();
      turn_end();
      wgmma_wait<0>();
      fence_all();
      mbar_arrive(empty0 + 8 * last);
    }
  } else {
    for (int it = 0; it < tiles; ++it) {
      const int s = it % kStages;
      start_s(it);
      turn_end();
      wgmma_wait<0>();
      fence_all();
      softmax(sc, int64_t(it) * kBKV, corr);
      rescale_o(corr);
      pack_p(sc, pa);
      turn_begin();
      fence_all();
      wgmma_fence();
      issue_pv(pa, v_stage(s));
      wgmma_commit();
      turn_end();
      wgmma_wait<0>();
      fence_all();
      mbar_arrive(empty0 + 8 * s);
    }
  }

  // out = O / l; a row that saw no key is zero.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (row_q[r] >= d.Sq) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    const int64_t oo = b * d.out.strides[0] + h * d.out.strides[1] + row_q[r] * d.out.strides[2];
#pragma unroll
    for (int i = 0; i < kD / 8; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e)
        store_f(d.out.ptr, d.out.dtype, oo + (8 * i + 2 * t + e) * d.out.strides[3],
                o[4 * i + 2 * r + e] * inv);
  }
#elif defined(__CUDA_ARCH__)
  // Not sm_90a code (the sm_80 SASS or the compute_90 PTX of this file): the host selects this
  // kernel only when the build has sm_90a SASS (PORTA_CUDA_SM90A_SASS), so getting here means a
  // forced PTX JIT; fail loudly instead of leaving out unwritten.
  __trap();
#endif
}

template <bool kBF16, int kD>
int launch_variant(const AttentionDesc& d, void* stream) {
  auto* kernel = attention_sm90_kernel<kBF16, kD>;
  constexpr size_t smem = Fa3Tiles<kD>::kSmemBytes;
  const pcError_t attr = pcFuncSetMaxDynamicSharedMemory(kernel, int(smem));
  if (attr != pcSuccess) return static_cast<int>(attr);
  dim3 grid(static_cast<unsigned>((d.Sq + kBQ - 1) / kBQ), static_cast<unsigned>(d.B * d.Hq));
  kernel<<<grid, kThreads, smem, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

template <bool kBF16>
int launch_dtype(const AttentionDesc& d, void* stream) {
  switch (d.D) {
    case 64: return launch_variant<kBF16, 64>(d, stream);
    case 128: return launch_variant<kBF16, 128>(d, stream);
    case 256: return launch_variant<kBF16, 256>(d, stream);
    default: return static_cast<int>(pcErrorInvalidDeviceFunction);  // the planner sends only these
  }
}

}  // namespace

// True only when this build carries sm_90a SASS (CMake defines PORTA_CUDA_SM90A_SASS when
// CMAKE_CUDA_ARCHITECTURES lists 90a): the compute_90 PTX of this file has no kernel body.
bool attention_sm90_compiled() {
#if defined(PORTA_CUDA_SM90A_SASS)
  return true;
#else
  return false;
#endif
}

int launch_attention_sm90(const AttentionDesc& d, void* stream) {
  if (d.B == 0 || d.Hq == 0 || d.Sq == 0) return 0;
  return d.q.dtype == kBF16 ? launch_dtype<true>(d, stream) : launch_dtype<false>(d, stream);
}

#else  // a dialect without NVIDIA PTX: the host never selects this path

bool attention_sm90_compiled() { return false; }
int launch_attention_sm90(const AttentionDesc&, void*) { return 1; }

#endif

}  // namespace porta::cuda
