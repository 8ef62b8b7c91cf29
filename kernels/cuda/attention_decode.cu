// Split-KV decode attention tuned for bandwidth (Sq * G <= 8 query rows per KV head). One CTA
// = one (batch, kv head, KV split) and all G query heads of the group (times Sq), so every K
// and V byte is read from memory exactly once. Its 4 warps take 16-key tiles round-robin;
// each warp streams its tiles through its own 3-stage cp.async ring (16-byte copies, two
// tiles in flight per warp while it computes the third), so no CTA-wide barrier sits in the
// loop. Per tile: lane (key = lane % 16, half = lane / 16) scores its key against every row
// over half of D (q in shared memory as f32, prescaled by scale * log2(e)), one shuffle
// joins the halves; online softmax per row (base 2) with shuffles over the 16 keys; then each
// lane owns 8 output columns of some keys of the tile for O += p * V. At the end the warps
// merge (m, l, O) through shared memory; a single split writes `out`, otherwise the partials
// (m in natural-log units, as attention_combine expects) go to the workspace.
// f32 math throughout. f16/bf16 q/k/v with unit-stride rows, 16-byte aligned (attention_plan).
// Status: unvalidated, never run on a GPU (see docs/cuda-backend.md).
#include "device_common.cuh"
#include "launch.h"

#if defined(PORTA_CUDA_NVIDIA_PATHS)
#include "mma_sm80.cuh"
#endif

namespace porta::cuda {

#if defined(PORTA_CUDA_NVIDIA_PATHS)
namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kKeys = 16;   // keys per warp tile
constexpr int kStages = 3;  // per-warp cp.async ring depth

template <int kD>
struct DecodeTiles {
  static constexpr int kChunks = kD / 8;                       // 16-byte chunks per row
  static constexpr int kTileBytes = kKeys * kD * 2;            // one K or one V tile
  static constexpr int kWarpBytes = kStages * 2 * kTileBytes;  // a warp's ring
  static constexpr int kRingBytes = kWarps * kWarpBytes;
};

// Byte offset of 16-byte chunk c of key row j in a [kKeys][kD] tile. The chunk index is
// XOR-swizzled by j % 8 inside its group of 8 (128 bytes): 8 lanes reading the same logical
// chunk of 8 different rows, or 8 chunks of one row, hit 8 different bank quads.
template <int kD>
__device__ __forceinline__ int tile_offset(int j, int c) {
  return j * kD * 2 + ((c & ~7) | ((c ^ j) & 7)) * 16;
}

template <bool kBF16>
__device__ __forceinline__ void unpack8(const uint4& x, float v[8]) {
  const uint32_t w[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (kBF16) {
      v[2 * i] = __uint_as_float(w[i] << 16);
      v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    } else {
      v[2 * i] = f16_bits_to_f32(uint16_t(w[i]));
      v[2 * i + 1] = f16_bits_to_f32(uint16_t(w[i] >> 16));
    }
  }
}

__device__ __forceinline__ int64_t decode_kv_len(const AttentionDesc& d, int64_t b) {
  if (!d.kv_lens.ptr) return d.Skv;
  const int64_t v = reinterpret_cast<const int32_t*>(d.kv_lens.ptr)[b * d.kv_lens.strides[3]];
  return v < 0 ? 0 : v > d.Skv ? d.Skv : v;
}

// kR: rows held per CTA (a power of two >= Sq * G); rows past Sq * G are computed, not stored.
template <bool kBF16, int kD, int kR>
__global__ void __launch_bounds__(kThreads, 1) attention_decode_kernel(AttentionDesc d) {
  using T = DecodeTiles<kD>;
  extern __shared__ __align__(16) unsigned char smem[];
  float* qs = reinterpret_cast<float*>(smem + T::kRingBytes);  // [kR][kD]
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t G = d.Hq / d.Hkv, rows = d.Sq * G;
  const int64_t b = blockIdx.y / d.Hkv, hkv = blockIdx.y % d.Hkv;
  const int split = blockIdx.x;
  const float neg_inf = -__int_as_float(0x7f800000);
  const float sl2 = d.scale * 1.4426950408889634f;  // exp(x*scale) = exp2(x*sl2)

  const int64_t len = decode_kv_len(d, b);
  const int64_t k_begin = int64_t(split) * d.split_keys;
  int64_t k_end = d.splits > 1 ? k_begin + d.split_keys : len;
  if (k_end > len) k_end = len;
  const int64_t n_tiles = k_end > k_begin ? (k_end - k_begin + kKeys - 1) / kKeys : 0;
  const int n_mine = n_tiles > warp ? int((n_tiles - warp + kWarps - 1) / kWarps) : 0;

  // Row r is (s = r / G, head hkv*G + r % G). Causal: keys [0, s + len - Sq + 1) are visible.
  int64_t lim[kR];
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    int64_t v = len;
    if (d.causal && r < rows) {
      v = r / G + len - d.Sq + 1;
      v = v < 0 ? 0 : v > len ? len : v;
    }
    lim[r] = r < rows ? v : 0;
  }
  for (int e = threadIdx.x; e < kR * kD; e += kThreads) {
    const int r = e / kD, c = e % kD;
    float v = 0.0f;
    if (r < rows) {
      const int64_t s = r / G, h = hkv * G + r % G;
      v = sl2 * load_f(d.q.ptr, d.q.dtype,
                       b * d.q.strides[0] + h * d.q.strides[1] + s * d.q.strides[2] + c * d.q.strides[3]);
    }
    qs[e] = v;
  }

  const char* K = d.k.ptr + (b * d.k.strides[0] + hkv * d.k.strides[1]) * 2;
  const char* V = d.v.ptr + (b * d.v.strides[0] + hkv * d.v.strides[1]) * 2;
  unsigned char* ring = smem + warp * T::kWarpBytes;
  // Copies this warp's i-th tile (global tile warp + i * kWarps) into ring stage `st`; rows
  // past k_end are zero-filled (p is 0 there, and 0 * garbage could be NaN).
  auto issue = [&](int i, int st) {
    const int64_t k0 = k_begin + (int64_t(warp) + int64_t(i) * kWarps) * kKeys;
    unsigned char* kt = ring + st * 2 * T::kTileBytes;
    unsigned char* vt = kt + T::kTileBytes;
    for (int x = lane; x < kKeys * T::kChunks; x += 32) {
      const int j = x / T::kChunks, c = x % T::kChunks;
      const bool ok = k0 + j < k_end;
      const int64_t key = ok ? k0 + j : 0;
      const int off = tile_offset<kD>(j, c);
      sm80::cp_async16(sm80::smem_addr(kt + off), K + (key * d.k.strides[2] + c * 8) * 2, ok);
      sm80::cp_async16(sm80::smem_addr(vt + off), V + (key * d.v.strides[2] + c * 8) * 2, ok);
    }
  };
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) {
    if (i < n_mine) issue(i, i);
    sm80::cp_async_commit();
  }
  __syncthreads();  // q in shared memory

  // V phase mapping: kLanesPerRow lanes cover one key row (8 columns each), so one
  // instruction covers kKeysPerStep keys; lane owns column chunk vc of keys vk + step*kKeysPerStep.
  constexpr int kLanesPerRow = T::kChunks < 32 ? T::kChunks : 32;
  constexpr int kKeysPerStep = 32 / kLanesPerRow;
  const int vc = lane % kLanesPerRow, vk = lane / kLanesPerRow;
  const int key_lane = lane % kKeys, half = lane / kKeys;  // score phase: key and D half

  float m[kR], l[kR], o[kR][8];
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    m[r] = neg_inf, l[r] = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; ++j) o[r][j] = 0.0f;
  }

  for (int i = 0; i < n_mine; ++i) {
    const int st = i % kStages;
    sm80::cp_async_wait<kStages - 2>();  // this lane's copies of tile i landed
    __syncwarp();                        // ... and every other lane's
    const unsigned char* kt = ring + st * 2 * T::kTileBytes;
    const unsigned char* vt = kt + T::kTileBytes;
    const int64_t k0 = k_begin + (int64_t(warp) + int64_t(i) * kWarps) * kKeys;

    // Scores of key k0 + key_lane over columns [half * kD/2, (half + 1) * kD/2).
    float s[kR];
#pragma unroll
    for (int r = 0; r < kR; ++r) s[r] = 0.0f;
#pragma unroll 4
    for (int cc = 0; cc < T::kChunks / 2; ++cc) {
      const int c = half * (T::kChunks / 2) + cc;
      float kv[8];
      unpack8<kBF16>(*reinterpret_cast<const uint4*>(kt + tile_offset<kD>(key_lane, c)), kv);
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        const float4 qa = *reinterpret_cast<const float4*>(qs + r * kD + c * 8);
        const float4 qb = *reinterpret_cast<const float4*>(qs + r * kD + c * 8 + 4);
        s[r] += qa.x * kv[0] + qa.y * kv[1] + qa.z * kv[2] + qa.w * kv[3] + qb.x * kv[4] + qb.y * kv[5] +
                qb.z * kv[6] + qb.w * kv[7];
      }
    }
    const int64_t key = k0 + key_lane;
    float p[kR];
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      float v = s[r] + __shfl_xor_sync(0xffffffffu, s[r], 16);  // both halves of D
      v = key < k_end && key < lim[r] ? v : neg_inf;
      float mx = v;
#pragma unroll
      for (int x = 1; x < kKeys; x <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, x));
      const float m_new = fmaxf(m[r], mx);
      const float base = m_new == neg_inf ? 0.0f : m_new;  // nothing visible yet: p = 0
      const float corr = exp2f(m[r] - base);               // m = -inf: 0
      p[r] = exp2f(v - base);
      float sum = p[r];
#pragma unroll
      for (int x = 1; x < kKeys; x <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, x);
      l[r] = l[r] * corr + sum;
      m[r] = m_new;
#pragma unroll
      for (int j = 0; j < 8; ++j) o[r][j] *= corr;
    }

    // O += p * V: step t covers keys t*kKeysPerStep + vk; p of key j lives in lane j (and j+16).
#pragma unroll
    for (int t = 0; t < kKeys / kKeysPerStep; ++t) {
      const int j = t * kKeysPerStep + vk;
      float vv[8];
      unpack8<kBF16>(*reinterpret_cast<const uint4*>(vt + tile_offset<kD>(j, vc)), vv);
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        const float pj = __shfl_sync(0xffffffffu, p[r], j);
#pragma unroll
        for (int x = 0; x < 8; ++x) o[r][x] += pj * vv[x];
      }
    }
    __syncwarp();  // every lane is done with stage st before it is refilled
    if (i + kStages - 1 < n_mine) issue(i + kStages - 1, (i + kStages - 1) % kStages);
    sm80::cp_async_commit();
  }
  sm80::cp_async_wait<0>();

  // Lanes sharing a column chunk hold different keys' sums: fold them into lanes < kLanesPerRow.
#pragma unroll
  for (int x = kLanesPerRow; x < 32; x <<= 1)
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int j = 0; j < 8; ++j) o[r][j] += __shfl_xor_sync(0xffffffffu, o[r][j], x);

  // Merge the warps: scratch over the (now idle) rings: m, l [kWarps][kR], O [kWarps][kR][kD].
  __syncthreads();
  float* wm = reinterpret_cast<float*>(smem);
  float* wl = wm + kWarps * kR;
  float* wo = wl + kWarps * kR;
  if (lane == 0)
#pragma unroll
    for (int r = 0; r < kR; ++r) wm[warp * kR + r] = m[r], wl[warp * kR + r] = l[r];
  if (vk == 0)
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int x = 0; x < 8; ++x) wo[(warp * kR + r) * kD + vc * 8 + x] = o[r][x];
  __syncthreads();
  const int64_t R = rows < kR ? rows : kR;
  for (int e = threadIdx.x; e < R * kD; e += kThreads) {
    const int r = e / kD, c = e % kD;
    float M = neg_inf;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, wm[w * kR + r]);
    float L = 0.0f, acc = 0.0f;
    if (M != neg_inf)
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float mw = wm[w * kR + r];
        if (mw == neg_inf) continue;
        const float f = exp2f(mw - M);
        L += f * wl[w * kR + r];
        acc += f * wo[(w * kR + r) * kD + c];
      }
    const int64_t s = r / G, h = hkv * G + r % G;
    if (d.splits == 1) {
      store_f(d.out.ptr, d.out.dtype,
              b * d.out.strides[0] + h * d.out.strides[1] + s * d.out.strides[2] + c * d.out.strides[3],
              L > 0.0f ? acc / L : 0.0f);
      continue;
    }
    const int64_t row = (b * d.Hq + h) * d.Sq + s, all_rows = d.B * d.Hq * d.Sq;
    d.part_o[(int64_t(split) * all_rows + row) * kD + c] = acc;
    if (c == 0) {  // combine weighs partials with expf: m back in natural-log units
      d.part_ml[(int64_t(split) * all_rows + row) * 2] = M == neg_inf ? M : M * 0.6931471805599453f;
      d.part_ml[(int64_t(split) * all_rows + row) * 2 + 1] = L;
    }
  }
}

template <bool kBF16, int kD, int kR>
int launch_variant(const AttentionDesc& d, void* stream) {
  auto* kernel = attention_decode_kernel<kBF16, kD, kR>;
  constexpr size_t smem = DecodeTiles<kD>::kRingBytes + sizeof(float) * kR * kD;
  static_assert(DecodeTiles<kD>::kRingBytes >= sizeof(float) * kWarps * kR * (kD + 2), "merge scratch fits");
  const pcError_t attr = pcFuncSetMaxDynamicSharedMemory(kernel, int(smem));
  if (attr != pcSuccess) return static_cast<int>(attr);
  dim3 grid(static_cast<unsigned>(d.splits), static_cast<unsigned>(d.B * d.Hkv));
  kernel<<<grid, kThreads, smem, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

template <bool kBF16, int kD>
int launch_rows(const AttentionDesc& d, void* stream) {
  const int64_t rows = d.Sq * (d.Hq / d.Hkv);
  if (rows <= 1) return launch_variant<kBF16, kD, 1>(d, stream);
  if (rows <= 2) return launch_variant<kBF16, kD, 2>(d, stream);
  if (rows <= 4) return launch_variant<kBF16, kD, 4>(d, stream);
  return launch_variant<kBF16, kD, 8>(d, stream);
}

template <bool kBF16>
int launch_dtype(const AttentionDesc& d, void* stream) {
  switch (d.D) {
    case 64: return launch_rows<kBF16, 64>(d, stream);
    case 128: return launch_rows<kBF16, 128>(d, stream);
    case 256: return launch_rows<kBF16, 256>(d, stream);
    default: return static_cast<int>(pcErrorInvalidDeviceFunction);  // the planner sends only these
  }
}

}  // namespace

bool attention_decode_compiled() { return true; }

int launch_attention_decode(const AttentionDesc& d, void* stream) {
  if (d.B == 0 || d.Hq == 0 || d.Sq == 0) return 0;
  if (d.Sq * (d.Hq / d.Hkv) > 8) return static_cast<int>(pcErrorInvalidDeviceFunction);
  return d.q.dtype == kBF16 ? launch_dtype<true>(d, stream) : launch_dtype<false>(d, stream);
}

#else  // a dialect without NVIDIA PTX (cp.async): the host never selects this path

bool attention_decode_compiled() { return false; }
int launch_attention_decode(const AttentionDesc&, void*) { return 1; }

#endif

}  // namespace porta::cuda
