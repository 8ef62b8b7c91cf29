// The serving ops (porta/serving.h) on Vulkan: kv_cache_write (paged_write.comp), copy_blocks
// (paged_copy.comp) and paged_attention: split-KV over block tables (paged_attention.comp),
// a workgroup per (sequence, query slot, head, split), then a merge per row
// (paged_reduce.comp) that writes the output and the LSE. On CPU-like devices decode steps
// take paged_decode_grouped.comp instead: the dense grouped kernel's scheme (one workgroup per
// sequence, KV head and split for the whole GQA group), same merge; in a mixed batch it takes
// the one-query sequences while paged_prefill.comp takes the chunks, both in the same call,
// each skipping the other's sequences on the device. The grid covers max_seqlen_q query
// slots per sequence (paged_prefill: floor(T / tile) + B query tiles); slots past a
// sequence's own queries exit at once (FlashAttention's varlen grid), so launches need no
// device-to-host copy. Splits: many for few rows (decode),
// one otherwise, and always short enough for llvmpipe's loop limit. q, out, lse and the index
// tensors arrive contiguous (accepts_strided is false for these ops); caches keep any strides.
#include <algorithm>

#include "../../../kernels/vulkan/paged_push.h"
#include "backends/vulkan/ops.h"

namespace porta::vk {
namespace {

#define PORTA_PUSH_U32(n) uint32_t n;
#define PORTA_PUSH_F32(n) float n;
#define PORTA_PUSH_COUNT(n) +1
struct AttnPush {
  PORTA_PAGED_ATTN_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
struct PrefillPush {
  PORTA_PAGED_PREFILL_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
struct ReducePush {
  PORTA_PAGED_REDUCE_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
struct WritePush {
  PORTA_PAGED_WRITE_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
struct CopyPush {
  PORTA_PAGED_COPY_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
static_assert(sizeof(AttnPush) == 4 * (0 PORTA_PAGED_ATTN_PUSH(PORTA_PUSH_COUNT, PORTA_PUSH_COUNT)));
static_assert(sizeof(WritePush) == 4 * (0 PORTA_PAGED_WRITE_PUSH(PORTA_PUSH_COUNT, PORTA_PUSH_COUNT)));
static_assert(sizeof(AttnPush) <= kPushBytes && sizeof(ReducePush) <= kPushBytes &&
                  sizeof(PrefillPush) <= kPushBytes && sizeof(WritePush) <= kPushBytes &&
                  sizeof(CopyPush) <= kPushBytes,
              "serving push constants exceed the guaranteed 128 bytes");

uint32_t format_code(KvCacheFormat f) {
  return f == KvCacheFormat::plain ? 0u : f == KvCacheFormat::int8 ? 1u : 2u;
}

// Block, slot and head strides of a cache tensor [nb, bs, Hkv, D] or scales [nb, bs, Hkv].
void cache_strides(const TensorArg& t, uint32_t* b, uint32_t* s, uint32_t* h, const char* op) {
  *b = u32(t.strides[0], op, "cache stride");
  *s = u32(t.strides[1], op, "cache stride");
  *h = u32(t.strides[2], op, "cache stride");
}

// The int8 scales, or the cache tensors themselves as never-read stand-ins for other formats.
const TensorArg& k_scales(const KvCacheArg& c) { return c.format == KvCacheFormat::int8 ? c.k_scales : c.k; }
const TensorArg& v_scales(const KvCacheArg& c) { return c.format == KvCacheFormat::int8 ? c.v_scales : c.v; }

template <typename P>
void fill_cache(P& pc, const KvCacheArg& c, const char* op) {
  cache_strides(c.k, &pc.sk_b, &pc.sk_s, &pc.sk_h, op);
  cache_strides(c.v, &pc.sv_b, &pc.sv_s, &pc.sv_h, op);
  if (c.format == KvCacheFormat::int8) {
    cache_strides(c.k_scales, &pc.sks_b, &pc.sks_s, &pc.sks_h, op);
    cache_strides(c.v_scales, &pc.svs_b, &pc.svs_s, &pc.svs_h, op);
  }
  pc.off_ks = u32(k_scales(c).offset, op, "byte offset");
  pc.off_vs = u32(v_scales(c).offset, op, "byte offset");
}

}  // namespace

void op_kv_cache_write(VulkanQueue& q, const KvCacheWriteArgs& a) {
  const char* op = "kv_cache_write";
  const KvCacheArg& c = a.cache;
  WritePush pc{};
  pc.T = u32(a.k.shape[0], op, "tokens");
  pc.Hkv = u32(a.k.shape[1], op, "KV heads");
  pc.D = u32(a.k.shape[2], op, "head dim");
  pc.nb = u32(c.k.shape[0], op, "blocks");
  pc.bs = u32(c.k.shape[1], op, "block size");
  u32(c.k.shape[0] * c.k.shape[1], op, "cache slots");
  pc.flags = a.slots.dtype == DType::i64 ? 1u : 0u;
  pc.off_k = u32(a.k.offset, op, "byte offset");
  pc.off_v = u32(a.v.offset, op, "byte offset");
  pc.off_slots = u32(a.slots.offset, op, "byte offset");
  pc.off_kc = u32(c.k.offset, op, "byte offset");
  pc.off_vc = u32(c.v.offset, op, "byte offset");
  fill_cache(pc, c, op);
  pc.k_scale = c.k_scale;
  pc.v_scale = c.v_scale;
  const uint32_t fmt = format_code(c.format);
  const Pipeline& p = q.device().pipelines().get(
      "paged_write", 7, {static_cast<uint32_t>(a.k.dtype), fmt, static_cast<uint32_t>(c.k.dtype)});
  q.dispatch(p,
             {ref(a.k, false), ref(a.v, false), ref(a.slots, false), ref(c.k, true), ref(c.v, true),
              ref(k_scales(c), fmt == 1), ref(v_scales(c), fmt == 1)},
             &pc, sizeof pc, groups(q, uint64_t{pc.T} * pc.Hkv, 64));
}

void op_copy_blocks(VulkanQueue& q, const CopyBlocksArgs& a) {
  const char* op = "copy_blocks";
  const KvCacheArg& c = a.cache;
  CopyPush pc{};
  pc.N = u32(a.mapping.shape[0], op, "pairs");
  pc.nb = u32(c.k.shape[0], op, "blocks");
  pc.bs = u32(c.k.shape[1], op, "block size");
  pc.Hkv = u32(c.k.shape[2], op, "KV heads");
  pc.D = u32(c.k.shape[3], op, "head dim");
  const bool int8 = c.format == KvCacheFormat::int8;
  pc.flags = (a.mapping.dtype == DType::i64 ? 1u : 0u) | (int8 ? 2u : 0u);
  pc.off_map = u32(a.mapping.offset, op, "byte offset");
  pc.off_kc = u32(c.k.offset, op, "byte offset");
  pc.off_vc = u32(c.v.offset, op, "byte offset");
  fill_cache(pc, c, op);
  const uint64_t rows = uint64_t{pc.N} * pc.bs * pc.Hkv;
  u32(static_cast<int64_t>(rows), op, "pairs x block rows");
  const Pipeline& p = q.device().pipelines().get("paged_copy", 5, {static_cast<uint32_t>(c.k.dtype)});
  q.dispatch(
      p,
      {ref(a.mapping, false), ref(c.k, true), ref(c.v, true), ref(k_scales(c), int8), ref(v_scales(c), int8)},
      &pc, sizeof pc, groups(q, rows, 64));
}

namespace {

// paged_reduce.comp's push constants for a pass-1 dispatch with these constants and splits.
ReducePush reduce_push(const PagedAttentionArgs& a, const AttnPush& pc, uint32_t splits) {
  const char* op = "paged_attention";
  ReducePush rp{};
  rp.T = pc.T;
  rp.heads = pc.heads;
  rp.B = pc.B;
  rp.max_q = pc.max_q;
  rp.splits = splits;
  rp.off_o = u32(a.out.offset, op, "byte offset");
  rp.off_lse = a.lse ? u32(a.lse->offset, op, "byte offset") : 0u;
  rp.off_cu = pc.off_cu;
  rp.flags = (a.lse ? 1u : 0u) | (pc.flags & 2u);  // 2: a mixed batch's one-query rows only
  rp.out_mul = a.cache.format == KvCacheFormat::fp8_e4m3fn ? a.cache.v_scale : 1.0f;
  return rp;
}

// One round of split-KV paged attention: pass 1 (paged_attention or paged_decode_grouped) over
// `splits` x `groups` workgroups from partial row `row0`, then paged_reduce over its `rows` rows.
void split_kv_round(VulkanQueue& q, const PagedAttentionArgs& a, const Pipeline& p1, AttnPush& pc,
                    const Allocation& part, uint32_t splits, uint32_t row0, uint32_t groups, uint32_t rows) {
  const KvCacheArg& c = a.cache;
  const uint32_t D = static_cast<uint32_t>(a.q.shape[2]);
  const Pipeline& p2 = q.device().pipelines().get("paged_reduce", 4, {D, static_cast<uint32_t>(a.out.dtype)});
  ReducePush rp = reduce_push(a, pc, splits);
  pc.row0 = rp.row0 = row0;
  const TensorArg& lse = a.lse ? *a.lse : a.out;  // a stand-in, never written without the flag
  q.dispatch(
      p1,
      {ref(a.q, false), ref(c.k, false), ref(c.v, false), ref(k_scales(c), false), ref(v_scales(c), false),
       ref(a.block_tables, false), ref(a.cu_seqlens_q, false), ref(a.seq_lens, false), ref(part, true)},
      &pc, sizeof pc, splits, groups);
  q.dispatch(p2, {ref(part, false), ref(a.out, true), ref(lse, a.lse != nullptr), ref(a.cu_seqlens_q, false)},
             &rp, sizeof rp, rows);
}

// Query chunks through paged_prefill.comp (passes of at most REACH keys over a running state
// indexed by token) and paged_finalize.comp. False when the grid, shared memory, loop budget
// or state buffer does not fit this device: the caller takes the split-KV row kernels then.
// skip_single: sequences of one query are left to the decode kernel (a mixed batch).
bool paged_prefill(VulkanQueue& q, const PagedAttentionArgs& a, const AttnPush& ap, bool skip_single) {
  const char* op = "paged_attention";
  VulkanDevice& dev = q.device();
  const KvCacheArg& c = a.cache;
  if (dev.caps().max_storage_buffers < 9)
    throw Error(Errc::unsupported, "vulkan: paged_attention binds 9 storage buffers; " + dev.info().name +
                                       " allows " + std::to_string(dev.caps().max_storage_buffers) +
                                       " per stage");
  const uint32_t Hq = ap.heads & 0xffff, Hkv = ap.heads >> 16, G = Hq / Hkv;
  const uint32_t D = u32(a.q.shape[2], op, "head dim");
  uint32_t br = 16, bc = 16;
  auto shared_bytes = [&] { return uint64_t{4} * ((br + 2 * bc) * D + br * bc + 5 * br + 4 * bc); };
  while (shared_bytes() > dev.caps().max_shared && bc > 4) br /= 2, bc /= 2;
  if (shared_bytes() > dev.caps().max_shared) return false;
  const uint32_t gh = std::min(G, br), qp = br / gh, g_tiles = (G + gh - 1) / gh;
  auto lim = [&](int d) { return std::min<uint32_t>(dev.caps().max_groups[d], 65535u); };
  // Query tiles of all sequences on one index (see paged_prefill.comp): floor(T / qp) + B
  // workgroups per KV head, as x + z * gx.
  const uint64_t tiles = uint64_t{ap.T} / qp + ap.B, gx = std::min<uint64_t>(tiles, lim(0));
  const uint64_t gz = (tiles + gx - 1) / gx, gy = uint64_t{Hkv} * g_tiles;
  if (gy > lim(1) || gz > lim(2)) return false;
  // Loop trips: per key tile (staging, scores over D, softmax, output over BC), plus a pass's
  // fixed part (q rows, state in and out, the rows' key ranges).
  const uint64_t wg = 128, opt = (uint64_t{br} * D + wg - 1) / wg;
  const uint64_t tile_edges = 1 + (uint64_t{bc} * D + wg - 1) / wg +
                              (uint64_t{br} * bc + wg - 1) / wg * (D + 1) + 2 * bc + opt * (bc + 1);
  const uint64_t fixed = 4 * opt + 2 * br + 17 + ap.B, trips = max_trips(dev);  // + B: the sequence scan
  uint64_t reach = uint64_t{1} << 30;
  if (trips != UINT64_MAX) {
    if (trips <= fixed + tile_edges) return false;
    reach = (trips - fixed) / tile_edges * bc;
  }
  const uint64_t state_bytes = uint64_t{ap.T} * Hq * (D + 2) * 4;
  if (state_bytes > dev.info().max_allocation_bytes || state_bytes > 0xffffffffu) return false;
  Allocation state = q.scratch(state_bytes, "paged attention state");

  PrefillPush pc{};
  pc.T = ap.T, pc.heads = ap.heads, pc.B = ap.B, pc.max_q = ap.max_q, pc.max_k = ap.max_k, pc.nb = ap.nb;
  pc.min_q = skip_single ? 2u : 0u;
  pc.max_blocks = ap.max_blocks;
  const uint32_t window = std::min<uint32_t>(ap.window, ap.max_k + 1);  // wider windows hide nothing
  if (window >= (1u << 22)) return false;
  const uint32_t bs = u32(c.k.shape[1], op, "block size");
  const uint32_t modes = (bs == 16   ? 0u
                          : bs == 32 ? 1u
                                     : 2u)
                             << 8 |
                         format_code(c.format) << 6 | static_cast<uint32_t>(c.k.dtype) << 4 |
                         static_cast<uint32_t>(a.q.dtype) << 2;
  pc.scale = ap.scale;
  pc.off_q = ap.off_q, pc.off_k = ap.off_k, pc.off_v = ap.off_v, pc.off_ks = ap.off_ks, pc.off_vs = ap.off_vs;
  pc.off_tab = ap.off_tab, pc.off_cu = ap.off_cu, pc.off_lens = ap.off_lens;
  fill_cache(pc, c, op);
  const Pipeline& p = dev.pipelines().get(
      "paged_prefill", 9, {D, br, bc, gh, static_cast<uint32_t>(std::min<uint64_t>(reach, 1u << 30))});
  for (uint64_t k0 = 0; k0 == 0 || k0 < ap.max_k; k0 += reach) {
    pc.k_begin = static_cast<uint32_t>(k0);
    pc.wflags = window << 10 | modes | (ap.flags & 1u) | (k0 == 0 ? 2u : 0u);
    q.dispatch(
        p,
        {ref(a.q, false), ref(c.k, false), ref(c.v, false), ref(k_scales(c), false), ref(v_scales(c), false),
         ref(a.block_tables, false), ref(a.cu_seqlens_q, false), ref(a.seq_lens, false), ref(state, true)},
        &pc, sizeof pc, static_cast<uint32_t>(gx), static_cast<uint32_t>(gy), static_cast<uint32_t>(gz));
  }
  ReducePush rp = reduce_push(a, ap, 0);  // paged_finalize reads no splits
  if (skip_single) rp.flags |= 2u;        // their tokens are paged_reduce's
  const TensorArg& lse = a.lse ? *a.lse : a.out;
  const Pipeline& f = dev.pipelines().get("paged_finalize", 4, {D, static_cast<uint32_t>(a.out.dtype)});
  const uint32_t rows = u32(uint64_t{ap.T} * Hq, op, "tokens x heads");
  for (uint32_t r0 = 0; r0 < rows; r0 += std::min(lim(0), rows - r0)) {
    rp.row0 = r0;
    q.dispatch(f,
               {ref(state, false), ref(a.out, true), ref(lse, a.lse != nullptr), ref(a.cu_seqlens_q, false)},
               &rp, sizeof rp, std::min(lim(0), rows - r0));
  }
  return true;
}

// Decode steps through paged_decode_grouped.comp + paged_reduce.comp on devices whose tuning
// row names grouped lanes (CPU-like: lavapipe): the dense grouped kernel's scheme, a workgroup
// per (sequence, KV head, split) serving the whole GQA group. plan_decode_grouped() is false
// where the device, head dim, group size, cache layout or loop budget do not fit it (the
// per-row kernel runs instead); it checks everything before anything is dispatched.
struct GroupedPlan {
  uint32_t G = 0, splits = 0, units = 0, per = 0, chunk = 0;
  uint64_t unit_bytes = 0;
};

bool plan_decode_grouped(VulkanDevice& dev, const PagedAttentionArgs& a, const AttnPush& pc, uint32_t D,
                         GroupedPlan* out) {
  const KvCacheArg& c = a.cache;
  const AttnDecodeTiling& t = dev.tuning().attn_decode;
  if (t.lanes == 0 || !dev.caps().subgroup_arithmetic || dev.caps().subgroup_size < t.lanes ||
      t.lanes > dev.caps().max_invocations || D % t.lanes != 0)
    return false;
  const uint64_t kvb = c.format == KvCacheFormat::plain ? dtype_size(c.k.dtype) : 1;
  const uint64_t E = D / t.lanes, E4 = E / 4, W = E * kvb / 16;
  if (E % 4 != 0 || (E * kvb) % 16 != 0) return false;
  const uint32_t Hq = pc.heads & 0xffffu, Hkv = pc.heads >> 16, G = Hq / Hkv;
  if (G > std::min<uint64_t>(t.max_rows, t.max_tile / E4)) return false;
  auto aligned = [&](const TensorArg& x) {
    return x.strides[3] == 1 && x.offset % 16 == 0 && (x.strides[0] * kvb) % 16 == 0 &&
           (x.strides[1] * kvb) % 16 == 0 && (x.strides[2] * kvb) % 16 == 0;
  };
  if (!aligned(c.k) || !aligned(c.v)) return false;
  // Loop back-edges per key (every inner loop counted as if it stayed rolled) and the fixed part.
  const uint64_t per_key = 4 + 2 * W + 2 * E4 + G * (E4 + 1) + G * (E4 + 2);
  const uint64_t fixed = 2 * G * (E4 * 5 + 1) + 16, trips = max_trips(dev);
  if (trips <= fixed + per_key) return false;
  const uint64_t max_chunk = std::min<uint64_t>(t.chunk, (trips - fixed) / per_key);
  const uint64_t keys = std::max<uint64_t>(1, pc.max_k), units = uint64_t{pc.B} * Hkv;
  const uint64_t max_splits = std::max<uint64_t>(1, std::min<uint64_t>(dev.caps().max_groups[0], trips / 4));
  uint64_t splits =
      std::max<uint64_t>((keys + max_chunk - 1) / max_chunk, (t.min_groups + units - 1) / units);
  splits = std::max<uint64_t>(1, std::min<uint64_t>({splits, max_splits, keys}));
  const uint64_t ch = (keys + splits - 1) / splits;
  if (ch > max_chunk || units * G > UINT32_MAX) return false;
  splits = (keys + ch - 1) / ch;
  // Units per round: the grid's y (pass 1) and x (pass 2, G rows each) limits, and partials
  // of at most 64 MiB.
  const uint64_t unit_bytes = uint64_t{G} * splits * (D + 2) * 4;
  auto lim = [&](int d) { return std::min<uint64_t>(dev.caps().max_groups[d], 65535u); };
  const uint64_t per = std::max<uint64_t>(
      1, std::min<uint64_t>({lim(1), lim(0) / G, (uint64_t{64} << 20) / unit_bytes, units}));
  out->G = G;
  out->splits = static_cast<uint32_t>(splits);
  out->units = static_cast<uint32_t>(units);
  out->per = static_cast<uint32_t>(per);
  out->chunk = static_cast<uint32_t>(ch);
  out->unit_bytes = unit_bytes;
  return true;
}

// Dispatches a plan. single_only: a mixed batch's decode steps (sequences of exactly one
// query; paged_prefill takes the others in the same call).
void paged_decode_grouped(VulkanQueue& q, const PagedAttentionArgs& a, AttnPush pc, uint32_t D,
                          const GroupedPlan& g, bool single_only) {
  const char* op = "paged_attention";
  const KvCacheArg& c = a.cache;
  const AttnDecodeTiling& t = q.device().tuning().attn_decode;
  pc.chunk = g.chunk;
  if (single_only) pc.max_q = 1, pc.flags |= 2u;  // rows (b * Hq + h), as a pure decode step's
  Allocation part = q.scratch(uint64_t{g.per} * g.unit_bytes, "paged attention partials");
  const Pipeline& p1 =
      q.device().pipelines().get("paged_decode_grouped", 9,
                                 {D, t.lanes, g.G, u32(c.k.shape[1], op, "block size"), format_code(c.format),
                                  static_cast<uint32_t>(a.q.dtype), static_cast<uint32_t>(c.k.dtype)});
  for (uint32_t u0 = 0; u0 < g.units; u0 += g.per) {
    const uint32_t n = std::min(g.per, g.units - u0);
    split_kv_round(q, a, p1, pc, part, g.splits, u0 * g.G, n, n * g.G);
  }
}

}  // namespace

void op_paged_attention(VulkanQueue& q, const PagedAttentionArgs& a) {
  const char* op = "paged_attention";
  VulkanDevice& dev = q.device();
  const KvCacheArg& c = a.cache;
  const uint32_t Hq = u32(a.q.shape[1], op, "heads"), D = u32(a.q.shape[2], op, "head dim");
  const uint32_t Hkv = u32(c.k.shape[2], op, "KV heads");
  if (Hq > 0xffff)
    throw Error(Errc::unsupported, "vulkan: paged_attention with " + std::to_string(Hq) +
                                       " query heads: at most 65535 on this backend");
  AttnPush pc{};
  pc.T = u32(a.q.shape[0], op, "tokens");
  pc.heads = Hq | Hkv << 16;
  pc.B = u32(a.seq_lens.shape[0], op, "sequences");
  pc.max_q = u32(a.max_seqlen_q, op, "max_seqlen_q");
  pc.max_k = u32(a.max_seqlen_k, op, "max_seqlen_k");
  pc.nb = u32(c.k.shape[0], op, "blocks");
  pc.max_blocks = u32(a.block_tables.shape[1], op, "table width");
  pc.window = u32(std::min<int64_t>(a.window, 0x7fffffff), op, "window");
  pc.flags = a.causal ? 1u : 0u;
  pc.scale = a.scale * (c.format == KvCacheFormat::fp8_e4m3fn ? c.k_scale : 1.0f);
  pc.off_q = u32(a.q.offset, op, "byte offset");
  pc.off_k = u32(c.k.offset, op, "byte offset");
  pc.off_v = u32(c.v.offset, op, "byte offset");
  pc.off_tab = u32(a.block_tables.offset, op, "byte offset");
  pc.off_cu = u32(a.cu_seqlens_q.offset, op, "byte offset");
  pc.off_lens = u32(a.seq_lens.offset, op, "byte offset");
  fill_cache(pc, c, op);
  const uint32_t rows = u32(uint64_t{pc.B} * pc.max_q * Hq, op, "sequences x max_seqlen_q x heads");
  if (rows == 0) return;
  // Query chunks: flash tiles whose K/V tile serves a GQA group; decode: the grouped kernel
  // where it fits, else split-KV rows. A mixed batch on a device with the grouped kernel
  // launches both: the prefill kernel skips the one-query sequences, which the decode kernel
  // takes (both read cu_seqlens_q on the device; the host knows only the maxima).
  GroupedPlan grouped;
  const bool has_grouped = plan_decode_grouped(dev, a, pc, D, &grouped);
  if (pc.max_q > 1 && paged_prefill(q, a, pc, has_grouped)) {
    if (has_grouped) paged_decode_grouped(q, a, pc, D, grouped, true);
    return;
  }
  if (pc.max_q == 1 && has_grouped) return paged_decode_grouped(q, a, pc, D, grouped, false);

  // Keys per split: a run of WG keys costs about D + 16 + (D/WG + 1) * (WG + 1) loop trips.
  const uint64_t wg = 128, trips = max_trips(dev);
  const uint64_t run_edges = D + 16 + ((D + wg - 1) / wg + 1) * (wg + 1);
  const uint64_t max_runs = trips / run_edges;
  if (max_runs == 0)
    throw Error(Errc::unsupported, "vulkan: paged_attention: head dim " + std::to_string(D) +
                                       " needs more loop "
                                       "iterations per invocation than " +
                                       dev.info().name + " runs");
  auto lim = [&](int d) { return std::min<uint32_t>(dev.caps().max_groups[d], 65535u); };
  const uint32_t max_x = lim(0), max_y = lim(1);
  const uint64_t keys = std::max<uint64_t>(1, pc.max_k);
  uint64_t ch = rows <= 4096 ? std::max<uint64_t>(dev.tuning().attn_decode_chunk, (keys + max_x - 1) / max_x)
                             : keys;  // few rows: split until the device is busy
  ch = std::min<uint64_t>((ch + wg - 1) / wg * wg, max_runs * wg);
  const uint64_t splits = (keys + ch - 1) / ch;
  if (splits > max_x)
    throw Error(Errc::unsupported, "vulkan: paged_attention: max_seqlen_k " + std::to_string(pc.max_k) +
                                       " needs more KV splits than " + dev.info().name + " dispatches");
  pc.chunk = static_cast<uint32_t>(ch);
  const uint64_t row_bytes = splits * (D + 2) * 4;
  const uint32_t per = static_cast<uint32_t>(
      std::min<uint64_t>({max_y, max_x, std::max<uint64_t>(1, (uint64_t{64} << 20) / row_bytes), rows}));
  Allocation part = q.scratch(per * row_bytes, "paged attention partials");
  const uint32_t dq = static_cast<uint32_t>(a.q.dtype);
  const Pipeline& p1 = dev.pipelines().get(
      "paged_attention", 9,
      {D, u32(c.k.shape[1], op, "block size"), format_code(c.format), dq, static_cast<uint32_t>(c.k.dtype)});
  for (uint32_t r0 = 0; r0 < rows; r0 += std::min(per, rows - r0)) {
    const uint32_t n = std::min(per, rows - r0);
    split_kv_round(q, a, p1, pc, part, static_cast<uint32_t>(splits), r0, n, n);
  }
}

}  // namespace porta::vk
