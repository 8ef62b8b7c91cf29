// Paged attention (porta/serving.h): split-KV attention over block tables for decode, chunked
// prefill and mixed batches alike, SIMT (the hip module builds it too). A CTA owns one
// (sequence, KV head, tile of the GQA group's heads, tile of query positions, KV split)
// (paged_plan.h): its rows (heads x positions, at most kR) share every K/V row it reads, so in
// decode each K/V byte is read once per KV head. Its 4 warps take 16-key tiles round-robin (16
// divides every block size, so a tile lies in one cache block: one table lookup per tile; a
// tile whose block id is outside [0, num_blocks) is skipped). Per tile, lane (key = lane % 16,
// half = lane / 16) scores its key against every row over half of D, loading the K row
// directly with 16-byte loads (8-byte for 8-bit codes) converted to f32 in registers (int8 codes
// times the row's scale, fp8 through its bits times the layer scale); q sits in shared memory
// as f32 prescaled by scale * log2(e). Online softmax per row in registers (base 2), shuffles
// over the 16 keys; then lanes own 8 output columns of some keys of the tile for O += p * V.
// At the end the warps merge (m, l, O) through shared memory: one split writes out (and LSE);
// several write partials (m in natural-log units) that paged_combine merges in split order.
// Device values are clamped exactly as paged_attention.cl does: cu_seqlens_q to [0, T], query
// counts to [0, max_q], lengths to [0, max_k]. Rows a key range misses (and K/V rows outside the
// CTA's visible range, never loaded) never reach the output, so NaN in unused slots stays out.
// Status: compiled for sm_80 / sm_90a (and hip), never run on a GPU.
#include "device_common.cuh"
#include "paged_args.h"
#include "paged_common.cuh"

namespace porta::cuda {
namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kKeys = 16;   // keys per warp tile
constexpr int kMaxD = 256;  // largest head dim (core admits 64, 80, 96, 128, 256)
constexpr float kLn2 = 0.6931471805599453f;

// Resident CTAs per SM asked of ptxas: its register cap (65536 / (128 x this)) keeps every
// variant free of spills (ptxas -v: 72-220 registers on sm_80 and sm_90a).
constexpr int min_ctas(int rows) { return rows >= 8 ? 2 : rows >= 4 ? 3 : 4; }

template <int kKind, int kR>
__global__ void __launch_bounds__(kThreads, min_ctas(kR)) paged_attention_kernel(PagedAttnDesc d) {
  __shared__ __align__(16) float qs[kR * kMaxD];           // [row][kMaxD] scaled q
  __shared__ __align__(16) float wo[kWarps * kR * kMaxD];  // [warp][vk][row][D] partial O
  __shared__ float wm[kWarps * kR], wl[kWarps * kR];
  const PagedLaunch& P = d.plan;
  const PagedCacheDesc& C = d.cache;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int Hkv = C.Hkv, D = C.D, G = int(d.Hq / Hkv);
  const float neg_inf = -__int_as_float(0x7f800000);

  int64_t id = blockIdx.x;  // ((((b * q_tiles + qt) * Hkv + hk) * g_tiles + gt) * splits + split
  const int split = int(id % P.splits);
  id /= P.splits;
  const int gt = int(id % P.g_tiles);
  id /= P.g_tiles;
  const int hk = int(id % Hkv);
  id /= Hkv;
  const int qt = int(id % P.q_tiles);
  const int64_t b = id / P.q_tiles;
  const SeqBounds sb = seq_bounds(d, b, d.max_k);
  const int i0 = qt * P.q_per_cta, len = sb.len;
  if (i0 >= sb.qlen) return;  // the whole CTA (paged_combine skips these rows too)

  // Row r = (i - i0) * gh + (g - gt * gh): query position i of head hk * G + g; keys [lo, hi).
  int lo[kR], hi[kR];
  int lo_t = len, hi_t = 0;
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    const int i = i0 + r / P.group_heads, g = gt * P.group_heads + r % P.group_heads;
    const bool valid = r < P.group_heads * P.q_per_cta && i < sb.qlen && g < G;
    paged_key_range(d, len, sb.qlen, i, lo[r], hi[r]);
    if (!valid) lo[r] = hi[r] = 0;
    if (valid && hi[r] > lo[r]) lo_t = min(lo_t, lo[r]), hi_t = max(hi_t, hi[r]);
  }
  const float sl2 = d.scale * 1.4426950408889634f;  // exp(x * scale) = exp2(x * sl2)
  for (int e = threadIdx.x; e < kR * D; e += kThreads) {
    const int r = e / D, c = e % D;
    const int i = i0 + r / P.group_heads, g = gt * P.group_heads + r % P.group_heads;
    float v = 0.0f;
    if (r < P.group_heads * P.q_per_cta && i < sb.qlen && g < G)
      v = sl2 * load_f(d.q, d.dt,
                       (sb.c0 + int64_t(i)) * d.q_st[0] + (int64_t(hk) * G + g) * d.q_st[1] +
                           int64_t(c) * d.q_st[2]);
    qs[r * kMaxD + c] = v;
  }
  __syncthreads();

  // Keys of this split: [begin, stop), begin a multiple of kKeys (chunk is a multiple of 64).
  // Keys in [begin, lo_t) (the first tile aligned down) are below every row's window: their
  // K and V rows are not loaded either (as the cpu backend, which starts at lo_t), so a NaN
  // in such a slot cannot reach a row as 0 * NaN.
  const int begin = max(split * P.chunk, lo_t & ~(kKeys - 1));
  const int stop = min(hi_t, (split + 1) * P.chunk);
  const int n_tiles = stop > begin ? (stop - begin + kKeys - 1) / kKeys : 0;

  constexpr int es = paged_elem_bytes(kKind);
  const int chunks = D / 8;                    // 8-element pieces per row (D % 16 == 0)
  const int lpr = chunks < 32 ? chunks : 32;   // V phase: lanes per key row
  const int kps = 32 / lpr;                    // keys per V step
  const int vc = lane % lpr, vk = lane / lpr;  // lane's column piece and key within a step
  const int key_lane = lane % kKeys, half = lane / kKeys;

  float m[kR], l[kR], o[kR][8];
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    m[r] = neg_inf, l[r] = 0.0f;
#pragma unroll
    for (int x = 0; x < 8; ++x) o[r][x] = 0.0f;
  }

  for (int n = warp; n < n_tiles; n += kWarps) {  // warp-uniform: no CTA barrier inside
    const int j0 = begin + n * kKeys, blk = j0 / C.block_size;
    if (blk >= d.max_blocks) break;
    const int bid = idx32(d.tables, b * d.tab_st[0] + int64_t(blk) * d.tab_st[1]);
    if (bid < 0 || bid >= C.num_blocks) continue;  // a bad block id: its keys are skipped
    const int slot0 = j0 - blk * C.block_size;
    const int64_t kbase = int64_t(bid) * C.k.s_blk + int64_t(hk) * C.k.s_head;
    const int64_t vbase = int64_t(bid) * C.v.s_blk + int64_t(hk) * C.v.s_head;

    // Scores of key j0 + key_lane over pieces [half * chunks/2, (half + 1) * chunks/2).
    const int key = j0 + key_lane;
    float s[kR];
#pragma unroll
    for (int r = 0; r < kR; ++r) s[r] = 0.0f;
    if (key < stop && key >= lo_t) {
      const char* krow = C.k.ptr + (kbase + int64_t(slot0 + key_lane) * C.k.s_slot) * es;
      float kmul = 1.0f;
      if (kKind == kPagedInt8)
        kmul = C.k.scales[int64_t(bid) * C.k.sc_blk + int64_t(slot0 + key_lane) * C.k.sc_slot +
                          int64_t(hk) * C.k.sc_head];
      if (kKind == kPagedFp8) kmul = C.k.layer_scale;
#pragma unroll 2
      for (int cc = 0; cc < chunks / 2; ++cc) {
        const int c = half * (chunks / 2) + cc;
        float kv[8];
        paged_load8<kKind>(krow, c * 8, C.vec, kv);
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          const float4 qa = *reinterpret_cast<const float4*>(qs + r * kMaxD + c * 8);
          const float4 qb = *reinterpret_cast<const float4*>(qs + r * kMaxD + c * 8 + 4);
          s[r] += qa.x * kv[0] + qa.y * kv[1] + qa.z * kv[2] + qa.w * kv[3] + qb.x * kv[4] + qb.y * kv[5] +
                  qb.z * kv[6] + qb.w * kv[7];
        }
      }
#pragma unroll
      for (int r = 0; r < kR; ++r) s[r] *= kmul;
    }
    float p[kR];
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      float v = s[r] + pc_shfl_xor(s[r], 16);  // both halves of D
      v = key < stop && key >= lo[r] && key < hi[r] ? v : neg_inf;
      float mx = v;
#pragma unroll
      for (int x = 1; x < kKeys; x <<= 1) mx = fmaxf(mx, pc_shfl_xor(mx, x));
      const float m_new = fmaxf(m[r], mx);
      const float base = m_new == neg_inf ? 0.0f : m_new;  // nothing visible yet: p = 0
      const float corr = exp2f(m[r] - base);               // m = -inf: 0
      p[r] = exp2f(v - base);
      float sum = p[r];
#pragma unroll
      for (int x = 1; x < kKeys; x <<= 1) sum += pc_shfl_xor(sum, x);
      l[r] = l[r] * corr + sum;
      m[r] = m_new;
#pragma unroll
      for (int x = 0; x < 8; ++x) o[r][x] *= corr;
    }

    // O += p * V: step t covers keys t * kps + vk; p of key j lives in lane j (and j + 16).
    // Rows outside [lo_t, stop) are never loaded (their slots may hold NaN, and 0 * NaN is NaN).
    for (int t = 0; t < (kKeys + kps - 1) / kps; ++t) {
      const int j = t * kps + vk;
      const bool ok = vk < kps && j < kKeys && j0 + j < stop && j0 + j >= lo_t;
      float vv[8];
#pragma unroll
      for (int x = 0; x < 8; ++x) vv[x] = 0.0f;
      float vmul = 1.0f;
      if (ok) {
        paged_load8<kKind>(C.v.ptr + (vbase + int64_t(slot0 + j) * C.v.s_slot) * es, vc * 8, C.vec, vv);
        if (kKind == kPagedInt8)
          vmul = C.v.scales[int64_t(bid) * C.v.sc_blk + int64_t(slot0 + j) * C.v.sc_slot +
                            int64_t(hk) * C.v.sc_head];
        if (kKind == kPagedFp8) vmul = C.v.layer_scale;
      }
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        const float pj = pc_shfl(p[r], j & (kKeys - 1)) * vmul;
#pragma unroll
        for (int x = 0; x < 8; ++x) o[r][x] += pj * vv[x];
      }
    }
  }

  // Merge: lanes (vc, vk) hold keys vk of column piece vc; warps hold their own tiles.
  if (lane == 0)
#pragma unroll
    for (int r = 0; r < kR; ++r) wm[warp * kR + r] = m[r], wl[warp * kR + r] = l[r];
  if (vk < kps)
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int x = 0; x < 8; ++x) wo[((warp * kps + vk) * kR + r) * D + vc * 8 + x] = o[r][x];
  __syncthreads();
  for (int e = threadIdx.x; e < kR * D; e += kThreads) {
    const int r = e / D, c = e % D;
    const int i = i0 + r / P.group_heads, g = gt * P.group_heads + r % P.group_heads;
    if (r >= P.group_heads * P.q_per_cta || i >= sb.qlen || g >= G) continue;
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
        float ow = 0.0f;
        for (int k = 0; k < kps; ++k) ow += wo[((w * kps + k) * kR + r) * D + c];
        L += f * wl[w * kR + r];
        acc += f * ow;
      }
    const int64_t t = sb.c0 + int64_t(i), h = int64_t(hk) * G + g;
    if (P.splits == 1) {
      store_f(d.out, d.dt, t * d.o_st[0] + h * d.o_st[1] + int64_t(c) * d.o_st[2], L > 0.0f ? acc / L : 0.0f);
      if (d.lse && c == 0) d.lse[t * d.lse_st[0] + h * d.lse_st[1]] = L > 0.0f ? M * kLn2 + logf(L) : neg_inf;
      continue;
    }
    const int64_t row = (b * d.max_q + i) * d.Hq + h;
    float* w = d.part + (row * P.splits + split) * (D + 2);
    if (c == 0) w[0] = M == neg_inf ? M : M * kLn2, w[1] = L;
    w[2 + c] = acc;
  }
}

// Merges the splits of row (b, i, h) = blockIdx.x: out = sum_s acc_s e^(m_s - M) / sum_s l_s
// e^(m_s - M); splits that saw no key (m = -inf) add nothing; a row no split saw is zeros
// (LSE -inf). Rows past a sequence's queries exit (the main kernel wrote nothing there).
__global__ void __launch_bounds__(kThreads) paged_combine_kernel(PagedAttnDesc d) {
  const int64_t row = blockIdx.x;
  const int D = d.cache.D, splits = d.plan.splits;
  const int64_t h = row % d.Hq, i = (row / d.Hq) % d.max_q, b = row / (d.Hq * d.max_q);
  const SeqBounds sb = seq_bounds(d, b, 0x7fffffff);
  if (i >= sb.qlen) return;
  const float neg_inf = -__int_as_float(0x7f800000);
  const float* w = d.part + row * splits * (D + 2);
  float mx = neg_inf;
  for (int s = 0; s < splits; ++s) mx = fmaxf(mx, w[s * (D + 2)]);
  const int64_t t = sb.c0 + i;
  for (int c = threadIdx.x; c < D; c += kThreads) {
    float num = 0.0f, den = 0.0f;
    if (mx != neg_inf)
      for (int s = 0; s < splits; ++s) {
        const float ms = w[s * (D + 2)];
        if (ms == neg_inf) continue;
        const float f = expf(ms - mx);
        den += w[s * (D + 2) + 1] * f;
        num += w[s * (D + 2) + 2 + c] * f;
      }
    store_f(d.out, d.dt, t * d.o_st[0] + h * d.o_st[1] + int64_t(c) * d.o_st[2],
            den > 0.0f ? num / den : 0.0f);
    if (d.lse && c == 0) d.lse[t * d.lse_st[0] + h * d.lse_st[1]] = den > 0.0f ? mx + logf(den) : neg_inf;
  }
}

template <int kKind, int kR>
int launch_variant(const PagedAttnDesc& d, void* stream) {
  paged_attention_kernel<kKind, kR>
      <<<static_cast<unsigned>(d.plan.ctas), kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

template <int kKind>
int launch_kind(const PagedAttnDesc& d, void* stream) {
  switch (d.plan.rows) {
    case 1: return launch_variant<kKind, 1>(d, stream);
    case 2: return launch_variant<kKind, 2>(d, stream);
    case 4: return launch_variant<kKind, 4>(d, stream);
    case 8: return launch_variant<kKind, 8>(d, stream);
    default: return static_cast<int>(pcErrorInvalidDeviceFunction);  // paged_plan.cpp sends only these
  }
}

}  // namespace

int launch_paged_attention(const PagedAttnDesc& d, void* stream) {
  if (d.plan.ctas == 0 || d.max_q == 0) return 0;
  if (d.cache.D > kMaxD || d.cache.D % 16 != 0) return static_cast<int>(pcErrorInvalidDeviceFunction);
  int st = 0;
  switch (d.cache.kind) {
    case kPagedF32: st = launch_kind<kPagedF32>(d, stream); break;
    case kPagedF16: st = launch_kind<kPagedF16>(d, stream); break;
    case kPagedBF16: st = launch_kind<kPagedBF16>(d, stream); break;
    case kPagedInt8: st = launch_kind<kPagedInt8>(d, stream); break;
    default: st = launch_kind<kPagedFp8>(d, stream); break;
  }
  if (st != 0 || d.plan.splits == 1) return st;
  const int64_t rows = d.B * d.max_q * d.Hq;
  paged_combine_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
