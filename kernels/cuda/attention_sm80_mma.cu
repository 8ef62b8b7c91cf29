// FlashAttention-2-style prefill for sm_80 (A800/A100; also runs on sm_90): one block of
// 4 warps owns 64 query rows of one head, each warp 16 rows. Per key tile: S = Q·Kᵀ with
// mma.sync.m16n8k16 (Q and K fragments by ldmatrix from padded shared rows), online softmax
// on the S accumulators in registers (a row lives in the 4 lanes of a quad), P re-packed
// in registers as the A operand of O += P·V (V by ldmatrix.trans). K/V tiles arrive by
// cp.async, the next tile's copy overlapping this tile's math (two stages).
// The host sends only f16/bf16 q/k/v with unit-stride rows, 16-byte aligned (attention_plan).
#include "device_common.cuh"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "fa2_sm80_tile.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

using namespace sm80;

constexpr int kWarps = 4, kThreads = 32 * kWarps, kBQ = 16 * kWarps;

template <int kD>
struct Fa2Tiles {
  // CTAs per SM the register budget must allow (ptxas's cap: 65536 / (128 kMinBlocks)): three
  // up to D = 80; two above, where a 168-register cap spilled (D = 96 on sm_80).
  static constexpr int kMinBlocks = kD <= 80 ? 3 : 2;
  static constexpr int kBKV = kD > 128 ? 32 : 64;  // keys per tile
  static constexpr int kPitch = kD + 8;            // padded row: ldmatrix phases hit distinct banks
  static constexpr int kStages = 2;
  static constexpr size_t kSmemBytes = sizeof(uint16_t) * size_t(kPitch) * (kBQ + 2 * kStages * kBKV);
};

template <bool kBF16, int kD>
__global__ void __launch_bounds__(kThreads, Fa2Tiles<kD>::kMinBlocks) attention_sm80_kernel(AttentionDesc d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using T = Fa2Tiles<kD>;
  constexpr int kBKV = T::kBKV, kPitch = T::kPitch;
  constexpr int kDT = kD / 8;  // O n-tiles
  extern __shared__ __align__(16) uint16_t sm[];
  uint16_t* Qs = sm;                               // [kBQ][kPitch]
  uint16_t* Ks = Qs + kBQ * kPitch;                // [kStages][kBKV][kPitch]
  uint16_t* Vs = Ks + T::kStages * kBKV * kPitch;  // [kStages][kBKV][kPitch]
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int g = lane / 4, t = lane % 4;
  // Causal blocks at the end of the sequence do the most work: start them first.
  const int64_t q0 = int64_t(gridDim.x - 1 - blockIdx.x) * kBQ;
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);
  const float neg_inf = -__int_as_float(0x7f800000);

  int64_t len = d.Skv;
  if (d.kv_lens.ptr) {
    const int64_t v = reinterpret_cast<const int32_t*>(d.kv_lens.ptr)[b * d.kv_lens.strides[3]];
    len = v < 0 ? 0 : v > d.Skv ? d.Skv : v;
  }
  int64_t k_end = len;
  if (d.causal) {
    const int64_t last = (q0 + kBQ < d.Sq ? q0 + kBQ : d.Sq) - 1;
    int64_t lim = last + len - d.Sq + 1;
    lim = lim < 0 ? 0 : lim;
    if (lim < k_end) k_end = lim;
  }

  const uint16_t* Q = reinterpret_cast<const uint16_t*>(d.q.ptr) + b * d.q.strides[0] + h * d.q.strides[1];
  const uint16_t* K = reinterpret_cast<const uint16_t*>(d.k.ptr) + b * d.k.strides[0] + hk * d.k.strides[1];
  const uint16_t* V = reinterpret_cast<const uint16_t*>(d.v.ptr) + b * d.v.strides[0] + hk * d.v.strides[1];
  constexpr int kChunks = kD / 8;  // 16-byte chunks per row
  for (int c = tid; c < kBQ * kChunks; c += kThreads) {
    const int row = c / kChunks, col = (c % kChunks) * 8;
    const bool ok = q0 + row < d.Sq;
    cp_async16(smem_addr(Qs + row * kPitch + col), ok ? Q + (q0 + row) * d.q.strides[2] + col : Q, ok);
  }
  auto load_kv = [&](int64_t k0, int stage) {
    uint16_t* ks = Ks + stage * kBKV * kPitch;
    uint16_t* vs = Vs + stage * kBKV * kPitch;
    for (int c = tid; c < kBKV * kChunks; c += kThreads) {
      const int row = c / kChunks, col = (c % kChunks) * 8;
      const bool ok = k0 + row < k_end;
      cp_async16(smem_addr(ks + row * kPitch + col), ok ? K + (k0 + row) * d.k.strides[2] + col : K, ok);
      cp_async16(smem_addr(vs + row * kPitch + col), ok ? V + (k0 + row) * d.v.strides[2] + col : V, ok);
    }
  };
  if (k_end > 0) load_kv(0, 0);
  cp_async_commit();  // group: Q and the first K/V tile

  // Softmax in base 2: exp(x*scale) = exp2(x*scale*log2(e)).
  const float sl2 = d.scale * 1.4426950408889634f;
  float o[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m[2] = {neg_inf, neg_inf}, l[2] = {0.0f, 0.0f};  // rows g and g + 8 of this warp
  const int64_t row_s[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
  int64_t row_lim[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    int64_t lim = len;
    if (d.causal) {
      lim = row_s[r] + len - d.Sq + 1;
      lim = lim < 0 ? 0 : lim > len ? len : lim;
    }
    row_lim[r] = lim;
  }

  const int tiles = int((k_end + kBKV - 1) / kBKV);
  for (int it = 0; it < tiles; ++it) {
    const int stage = it % T::kStages;
    const int64_t k0 = int64_t(it) * kBKV;
    __syncthreads();  // everyone is done with the stage the next prefetch overwrites
    if (it + 1 < tiles) load_kv(k0 + kBKV, (it + 1) % T::kStages);
    cp_async_commit();
    cp_async_wait<1>();  // this tile (and Q) landed
    __syncthreads();
    const uint16_t* ks = Ks + stage * kBKV * kPitch;
    const uint16_t* vs = Vs + stage * kBKV * kPitch;

    fa2_tile<kBF16, kD, kBKV, kPitch>(
        Qs + warp * 16 * kPitch, ks, vs, lane, sl2, [&](int r, int kl) { return k0 + kl < row_lim[r]; }, o, m,
        l);
  }
  cp_async_wait<0>();

  // out = O / l; a row that saw no key is zero.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (row_s[r] >= d.Sq) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    const int64_t oo = b * d.out.strides[0] + h * d.out.strides[1] + row_s[r] * d.out.strides[2];
#pragma unroll
    for (int i = 0; i < kDT; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e)
        store_f(d.out.ptr, d.out.dtype, oo + (i * 8 + 2 * t + e) * d.out.strides[3], o[i][r * 2 + e] * inv);
  }
#endif
}

template <bool kBF16, int kD>
int launch_variant(const AttentionDesc& d, void* stream) {
  auto* kernel = attention_sm80_kernel<kBF16, kD>;
  constexpr size_t smem = Fa2Tiles<kD>::kSmemBytes;
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
    case 80: return launch_variant<kBF16, 80>(d, stream);
    case 96: return launch_variant<kBF16, 96>(d, stream);
    case 128: return launch_variant<kBF16, 128>(d, stream);
    case 256: return launch_variant<kBF16, 256>(d, stream);
    default: return static_cast<int>(pcErrorInvalidDeviceFunction);  // the planner sends only these
  }
}

}  // namespace

bool attention_sm80_compiled() { return true; }

int launch_attention_sm80(const AttentionDesc& d, void* stream) {
  if (d.B == 0 || d.Hq == 0 || d.Sq == 0) return 0;
  return d.q.dtype == kBF16 ? launch_dtype<true>(d, stream) : launch_dtype<false>(d, stream);
}

#else  // a dialect without NVIDIA PTX: the host never selects this path

bool attention_sm80_compiled() { return false; }
int launch_attention_sm80(const AttentionDesc&, void*) { return 1; }

#endif

}  // namespace porta::cuda
