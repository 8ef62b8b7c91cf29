// Portable flash attention (prefill and decode): online softmax over key tiles, no S x S
// matrix. A block owns `rows_per_block` query rows of one (batch, kv head): rows are
// s-major over the GQA group, so the K/V tiles it stages in shared memory serve every query
// head of the group. Each 32-lane group takes rows round-robin: lane j scores key j of the
// tile, the P.V update walks the tile with one shuffle per key, each lane owning D/32 output
// columns. Splits over the KV range (grid z) write unnormalised partials (o, max, sum) that
// attention_combine merges; one split writes `out` directly.
#include "device_common.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

constexpr int kThreads = 128, kMaxSlots = 8;  // D <= 256 = 8 columns per lane

// Eight f16/bf16 values from a 16-byte aligned address, as f32.
__device__ __forceinline__ void load8(const char* p, int dt, float v[8]) {
  const uint4 x = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const uint16_t lo = uint16_t(w[j]), hi = uint16_t(w[j] >> 16);
    v[2 * j] = dt == kF16 ? f16_bits_to_f32(lo) : bf16_bits_to_f32(lo);
    v[2 * j + 1] = dt == kF16 ? f16_bits_to_f32(hi) : bf16_bits_to_f32(hi);
  }
}

__device__ __forceinline__ int64_t kv_len(const AttentionDesc& d, int64_t b) {
  if (!d.kv_lens.ptr) return d.Skv;
  const int64_t v = reinterpret_cast<const int32_t*>(d.kv_lens.ptr)[b * d.kv_lens.strides[3]];
  return v < 0 ? 0 : v > d.Skv ? d.Skv : v;
}

__global__ void __launch_bounds__(kThreads) attention_kernel(AttentionDesc d) {
  extern __shared__ float smem[];
  const int D = int(d.D), R = d.rows_per_block, T = d.key_tile;
  float* Qs = smem;              // [R][D], pre-scaled
  float* Ks = Qs + R * D;        // [T][D + 1]: padded so lanes reading different keys differ in bank
  float* Vs = Ks + T * (D + 1);  // [T][D]
  const int lane = threadIdx.x % kGroup, group = threadIdx.x / kGroup, groups = kThreads / kGroup;
  const int64_t g = d.Hq / d.Hkv, G = d.Sq * g;
  const int64_t b = blockIdx.y / d.Hkv, hkv = blockIdx.y % d.Hkv;
  const int64_t r0 = int64_t(blockIdx.x) * R;
  const int split = blockIdx.z;
  const float neg_inf = -__int_as_float(0x7f800000);

  const int64_t len = kv_len(d, b);
  int64_t k_begin = int64_t(split) * d.split_keys;
  int64_t k_end = d.splits > 1 ? k_begin + d.split_keys : len;
  if (k_end > len) k_end = len;
  // Causal: the block's last row sees the most keys.
  const int64_t last_row = (r0 + R < G ? r0 + R : G) - 1;
  if (d.causal) {
    int64_t lim = last_row / g + len - d.Sq + 1;
    lim = lim < 0 ? 0 : lim > len ? len : lim;
    if (k_end > lim) k_end = lim;
  }

  for (int e = threadIdx.x; e < R * D; e += kThreads) {
    const int64_t r = r0 + e / D;
    float v = 0.0f;
    if (r < G) {
      const int64_t s = r / g, h = hkv * g + r % g;
      v = d.scale *
          load_f(d.q.ptr, d.q.dtype,
                 b * d.q.strides[0] + h * d.q.strides[1] + s * d.q.strides[2] + (e % D) * d.q.strides[3]);
    }
    Qs[e] = v;
  }

  float m[4], l[4], o[4][kMaxSlots];  // up to 4 rows per lane group (R <= 16, 4 groups)
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    m[i] = neg_inf, l[i] = 0.0f;
#pragma unroll
    for (int t = 0; t < kMaxSlots; ++t) o[i][t] = 0.0f;
  }
  const int64_t kb = b * d.k.strides[0] + hkv * d.k.strides[1];
  const int64_t vb = b * d.v.strides[0] + hkv * d.v.strides[1];
  for (int64_t k0 = k_begin; k0 < k_end; k0 += T) {
    pc_syncthreads();  // previous tile fully consumed (and Qs written, first time)
    if (d.vec_kv) {    // 16-bit K/V with unit-stride rows: 8 elements per 16-byte load
      const int D8 = D / 8;
      for (int e = threadIdx.x; e < T * D8; e += kThreads) {
        const int j = e / D8, c = (e % D8) * 8;
        const int64_t key = k0 + j;
        float kv[8] = {0, 0, 0, 0, 0, 0, 0, 0}, vv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (key < k_end) {
          load8(d.k.ptr + (kb + key * d.k.strides[2] + c) * 2, d.k.dtype, kv);
          load8(d.v.ptr + (vb + key * d.v.strides[2] + c) * 2, d.v.dtype, vv);
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) Ks[j * (D + 1) + c + i] = kv[i], Vs[j * D + c + i] = vv[i];
      }
    } else {
      for (int e = threadIdx.x; e < T * D; e += kThreads) {
        const int j = e / D, c = e % D;
        const int64_t key = k0 + j;
        const bool ok = key < k_end;
        Ks[j * (D + 1) + c] =
            ok ? load_f(d.k.ptr, d.k.dtype, kb + key * d.k.strides[2] + c * d.k.strides[3]) : 0.0f;
        Vs[j * D + c] =
            ok ? load_f(d.v.ptr, d.v.dtype, vb + key * d.v.strides[2] + c * d.v.strides[3]) : 0.0f;
      }
    }
    pc_syncthreads();
    // Fully unrolled with guards (not break) so m, l and o stay in registers.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int lr = group + i * groups;
      const int64_t r = r0 + lr;
      if (lr >= R || r >= G) continue;
      int64_t lim = k_end;
      if (d.causal) {
        int64_t c = r / g + len - d.Sq + 1;
        c = c < 0 ? 0 : c;
        if (c < lim) lim = c;
      }
      float sc = neg_inf;
      if (lane < T && k0 + lane < lim) {
        const float* q = Qs + lr * D;
        const float* k = Ks + lane * (D + 1);
        float acc = 0.0f;
        for (int c = 0; c < D; ++c) acc += q[c] * k[c];
        sc = acc;
      }
      const float mt = group_max(sc);
      const float m_new = m[i] > mt ? m[i] : mt;
      if (m_new == neg_inf) continue;  // nothing visible yet
      const float p = sc == neg_inf ? 0.0f : expf(sc - m_new);
      const float corr = m[i] == neg_inf ? 0.0f : expf(m[i] - m_new);
      l[i] = l[i] * corr + group_sum(p);
      m[i] = m_new;
#pragma unroll
      for (int t = 0; t < kMaxSlots; ++t) o[i][t] *= corr;
      for (int j = 0; j < T; ++j) {
        const float pj = pc_shfl(p, j);
        if (pj == 0.0f) continue;  // uniform across the group: same pj in every lane
        const float* v = Vs + j * D;
#pragma unroll
        for (int t = 0; t < kMaxSlots; ++t) {
          const int c = lane + t * kGroup;
          if (c < D) o[i][t] += pj * v[c];
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int lr = group + i * groups;
    const int64_t r = r0 + lr;
    if (lr >= R || r >= G) continue;
    const int64_t s = r / g, h = hkv * g + r % g;
    const int64_t row = (b * d.Hq + h) * d.Sq + s;
    if (d.splits > 1) {
      const int64_t rows = d.B * d.Hq * d.Sq;
      float* po = d.part_o + (int64_t(split) * rows + row) * D;
#pragma unroll
      for (int t = 0; t < kMaxSlots; ++t)
        if (lane + t * kGroup < D) po[lane + t * kGroup] = o[i][t];
      if (lane == 0) {
        d.part_ml[(int64_t(split) * rows + row) * 2] = m[i];
        d.part_ml[(int64_t(split) * rows + row) * 2 + 1] = l[i];
      }
      continue;
    }
    const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
    const int64_t oo = b * d.out.strides[0] + h * d.out.strides[1] + s * d.out.strides[2];
#pragma unroll
    for (int t = 0; t < kMaxSlots; ++t) {
      const int c = lane + t * kGroup;
      if (c < D) store_f(d.out.ptr, d.out.dtype, oo + c * d.out.strides[3], o[i][t] * inv);
    }
  }
}

__global__ void attention_combine_kernel(AttentionDesc d) {
  const int64_t rows = d.B * d.Hq * d.Sq, D = d.D;
  const float neg_inf = -__int_as_float(0x7f800000);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < rows * D;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / D, c = e % D;
    float mx = neg_inf;
    for (int s = 0; s < d.splits; ++s) {
      const float ms = d.part_ml[(int64_t(s) * rows + row) * 2];
      mx = ms > mx ? ms : mx;
    }
    float L = 0.0f, acc = 0.0f;
    if (mx != neg_inf)
      for (int s = 0; s < d.splits; ++s) {
        const float ms = d.part_ml[(int64_t(s) * rows + row) * 2];
        if (ms == neg_inf) continue;
        const float w = expf(ms - mx);
        L += w * d.part_ml[(int64_t(s) * rows + row) * 2 + 1];
        acc += w * d.part_o[(int64_t(s) * rows + row) * D + c];
      }
    const int64_t s_ = row % d.Sq, h = row / d.Sq % d.Hq, b = row / (d.Sq * d.Hq);
    store_f(d.out.ptr, d.out.dtype,
            b * d.out.strides[0] + h * d.out.strides[1] + s_ * d.out.strides[2] + c * d.out.strides[3],
            L > 0.0f ? acc / L : 0.0f);
  }
}

}  // namespace

int launch_attention_simt(const AttentionDesc& d, void* stream) {
  const int64_t G = d.Sq * (d.Hq / d.Hkv);
  if (G == 0 || d.B == 0) return 0;
  const size_t smem =
      sizeof(float) * size_t(d.rows_per_block * d.D + d.key_tile * (d.D + 1) + d.key_tile * d.D);
  if (smem > 48 * 1024) {  // per device: set on every launch that needs it
    const pcError_t e = pcFuncSetMaxDynamicSharedMemory(attention_kernel, int(smem));
    if (e != pcSuccess) return static_cast<int>(e);
  }
  dim3 grid(static_cast<unsigned>((G + d.rows_per_block - 1) / d.rows_per_block),
            static_cast<unsigned>(d.B * d.Hkv), static_cast<unsigned>(d.splits));
  attention_kernel<<<grid, kThreads, smem, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

int launch_attention_combine(const AttentionDesc& d, void* stream) {
  const int64_t n = d.B * d.Hq * d.Sq * d.D;
  if (n == 0) return 0;
  attention_combine_kernel<<<grid_for(n, 256), 256, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
