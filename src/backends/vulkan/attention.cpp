// Attention dispatch: split-KV decode (attention_decode + _reduce) for a few query rows
// over a long KV cache, flash-style prefill (attention_prefill) otherwise. Grids larger than
// the device allows run in chunks (query rows; heads, batches and query tiles for prefill).
// Where loops are limited (llvmpipe), a KV sequence longer than one prefill workgroup may
// walk takes the split-KV kernels, whose loops are bounded per split.
#include <algorithm>

#include "../../../kernels/vulkan/attention_push.h"
#include "backends/vulkan/ops.h"

namespace porta::vk {
namespace {

#define PORTA_PUSH_U32(n) uint32_t n;
#define PORTA_PUSH_F32(n) float n;
#define PORTA_PUSH_COUNT(n) +1
// The shaders' push-constant block, expanded from the same field list (attention_push.h);
// std430 packs 4-byte scalars without padding, so the struct must too.
struct AttnPush {
  PORTA_ATTENTION_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
constexpr int kAttnPushFields = 0 PORTA_ATTENTION_PUSH(PORTA_PUSH_COUNT, PORTA_PUSH_COUNT);
static_assert(sizeof(AttnPush) == 4 * kAttnPushFields,
              "attention push constants must be packed 4-byte fields");
static_assert(sizeof(AttnPush) <= kPushBytes, "attention push constants exceed the guaranteed 128 bytes");

void strides(const TensorArg& t, uint32_t* s, const char* op) {
  for (int i = 0; i < 4; ++i) s[i] = u32(t.strides[i], op, "stride");
}

// Attention by attention_decode_grouped + attention_decode_reduce (rows of the tuning table
// that name `lanes`): decode and prefill alike, a unit of G = Hq / Hkv heads x QB queries per
// workgroup, the KV range split as the loop budget and the grid's fill ask. False where the
// shapes, layout or device do not fit it (the other kernels run instead).
bool attention_grouped(VulkanQueue& q, const AttentionArgs& a, AttnPush pc, uint32_t D,
                       const TensorArg& lens) {
  VulkanDevice& dev = q.device();
  const AttnDecodeTiling& t = dev.tuning().attn_decode;
  if (t.lanes == 0 || !dev.caps().subgroup_arithmetic || dev.caps().subgroup_size < t.lanes ||
      t.lanes > dev.caps().max_invocations || D % (t.lanes * 8) != 0)
    return false;
  const DType kt = a.k.dtype;
  const uint64_t kvb = dtype_size(kt), E = D / t.lanes, E4 = E / 4, W = E * kvb / 16;
  const uint32_t G = pc.Hq / pc.Hkv;
  const uint64_t max_rows = std::min<uint64_t>(t.max_rows, t.max_tile / E4);
  if (G > max_rows) return false;
  const uint32_t QB = static_cast<uint32_t>(std::min<uint64_t>(pc.Sq, max_rows / G)), NR = G * QB;
  auto aligned = [&](const TensorArg& x) {
    return x.strides[3] == 1 && x.offset % 16 == 0 && (x.strides[0] * kvb) % 16 == 0 &&
           (x.strides[1] * kvb) % 16 == 0 && (x.strides[2] * kvb) % 16 == 0;
  };
  if (a.v.dtype != kt || !(kt == DType::f32 || kt == DType::f16 || kt == DType::bf16) || !aligned(a.k) ||
      !aligned(a.v))
    return false;
  // Loop back-edges per key, every inner loop counted as if it stayed rolled, and the fixed part.
  const uint64_t per_key = 1 + 2 * W + 2 * E4 + NR * (E4 + 1) + NR * (E4 + 2);
  const uint64_t fixed = 2 * NR * (E4 * 5 + 1) + 16, trips = max_trips(dev);
  if (trips <= fixed + per_key) return false;
  const uint64_t max_chunk = std::min<uint64_t>(t.chunk, (trips - fixed) / per_key);
  const uint64_t nblk = (pc.Sq + QB - 1) / QB, units = uint64_t{pc.B} * pc.Hkv * nblk;
  const uint64_t max_splits = std::max<uint64_t>(1, std::min<uint64_t>(dev.caps().max_groups[0], trips / 4));
  uint64_t splits =
      std::max<uint64_t>((pc.Skv + max_chunk - 1) / max_chunk, (t.min_groups + units - 1) / units);
  splits = std::max<uint64_t>(1, std::min<uint64_t>({splits, max_splits, pc.Skv}));
  const uint64_t ch = (pc.Skv + splits - 1) / splits;
  if (ch > max_chunk || units * NR > UINT32_MAX) return false;
  pc.chunk = static_cast<uint32_t>(ch);
  splits = (pc.Skv + ch - 1) / ch;
  // Units per round: the grid's y (pass 1) and x (pass 2, NR rows each) limits, and partials
  // of at most 64 MiB.
  const uint64_t unit_bytes = NR * splits * (D + 2) * 4;
  auto lim = [&](int d) { return std::min<uint64_t>(dev.caps().max_groups[d], 65535u); };
  const uint64_t per = std::max<uint64_t>(
      1, std::min<uint64_t>({lim(1), lim(0) / NR, (uint64_t{64} << 20) / unit_bytes, units}));
  Allocation part = q.scratch(per * unit_bytes, "split-KV attention partials");
  const uint32_t dq = static_cast<uint32_t>(a.q.dtype), dkv = static_cast<uint32_t>(kt),
                 dout = static_cast<uint32_t>(a.out.dtype);
  const Pipeline& p1 = dev.pipelines().get("attention_decode_grouped", 5, {D, t.lanes, NR, dq, dkv});
  const Pipeline& p2 = dev.pipelines().get("attention_decode_reduce", 2, {D, 1, 1, dq, dkv, dout, NR});
  for (uint64_t u0 = 0; u0 < units; u0 += per) {
    const uint32_t n = static_cast<uint32_t>(std::min(per, units - u0));
    pc.row0 = static_cast<uint32_t>(u0 * NR);
    q.dispatch(p1, {ref(a.q, false), ref(a.k, false), ref(a.v, false), ref(part, true), ref(lens, false)},
               &pc, sizeof pc, static_cast<uint32_t>(splits), n);
    AttnPush r = pc;
    r.chunk = static_cast<uint32_t>(splits);
    q.dispatch(p2, {ref(part, false), ref(a.out, true)}, &r, sizeof r, n * NR);
  }
  return true;
}

}  // namespace

void op_attention(VulkanQueue& q, const AttentionArgs& a) {
  const char* op = "attention";
  VulkanDevice& dev = q.device();
  AttnPush pc{};
  pc.B = u32(a.q.shape[0], op, "batch");
  pc.Hq = u32(a.q.shape[1], op, "heads");
  pc.Sq = u32(a.q.shape[2], op, "query length");
  const uint32_t D = u32(a.q.shape[3], op, "head dim");
  pc.Hkv = u32(a.k.shape[1], op, "KV heads");
  pc.Skv = u32(a.k.shape[2], op, "KV length");
  if (pc.B == 0 || pc.Hq == 0 || pc.Sq == 0) return;
  strides(a.q, &pc.sq_b, op);
  strides(a.k, &pc.sk_b, op);
  strides(a.v, &pc.sv_b, op);
  strides(a.out, &pc.so_b, op);
  pc.off_q = u32(a.q.offset, op, "byte offset");
  pc.off_k = u32(a.k.offset, op, "byte offset");
  pc.off_v = u32(a.v.offset, op, "byte offset");
  pc.off_o = u32(a.out.offset, op, "byte offset");
  pc.flags = a.causal ? 2 : 0;
  pc.scale = a.scale;
  const TensorArg& lens = a.kv_lens ? *a.kv_lens : a.q;
  if (a.kv_lens) {
    pc.flags |= 1;
    pc.off_lens = u32(a.kv_lens->offset, op, "byte offset");
    pc.s_lens = u32(a.kv_lens->strides[0], op, "stride");
  }
  const uint32_t dq = static_cast<uint32_t>(a.q.dtype), dkv = static_cast<uint32_t>(a.k.dtype),
                 dout = static_cast<uint32_t>(a.out.dtype);
  auto lim = [&](int d) { return std::min<uint32_t>(dev.caps().max_groups[d], 65535u); };
  const uint32_t max_x = lim(0), max_y = lim(1), max_z = lim(2);
  const uint32_t rows = u32(uint64_t{pc.B} * pc.Hq * pc.Sq, op, "batch x heads x query length");
  const uint64_t trips = max_trips(dev);

  // Prefill tiles: as many query rows and keys per tile as shared memory allows.
  uint32_t br = 16, bc = 16;
  auto shared_bytes = [&] { return ((br + 2 * bc) * D + br * bc + 3 * br) * 4; };
  while (shared_bytes() > dev.caps().max_shared && bc > 4) br /= 2, bc /= 2;
  // Loop back-edges of one key tile of attention_prefill (loops that may stay rolled counted
  // whole: staging, scores over D, softmax, output over BC) against the device's limit.
  const uint64_t wg = 128;
  const uint64_t tile_edges = 1 + (uint64_t{bc} * D + wg - 1) / wg +
                              (uint64_t{br} * bc + wg - 1) / wg * (D + 1) + 2 * bc +
                              (uint64_t{br} * D + wg - 1) / wg * (bc + 1);
  const bool prefill_fits = (uint64_t{pc.Skv} + bc - 1) / bc <= trips / tile_edges;
  const uint32_t chunk = dev.tuning().attn_decode_chunk;
  if (attention_grouped(q, a, pc, D, lens)) return;

  if ((pc.Sq <= 4 && pc.Skv >= 2 * chunk) || !prefill_fits) {
    // Split-KV: at most max_x splits (and few enough for the merge's loops); a split walks
    // its keys in blocks of 128, each costing about D + 16 + (D/128 + 1) * 129 back-edges.
    const uint64_t max_splits = std::max<uint64_t>(1, std::min<uint64_t>(max_x, trips / 4));
    uint64_t ch = std::max<uint64_t>(chunk, (uint64_t{pc.Skv} + max_splits - 1) / max_splits);
    ch = (ch + wg - 1) / wg * wg;
    const uint64_t block_edges = D + 16 + ((D + wg - 1) / wg + 1) * (wg + 1);
    if (ch / wg > trips / block_edges)
      throw Error(Errc::unsupported, "vulkan: attention: KV length " + std::to_string(pc.Skv) +
                                         " needs more loop iterations per invocation than " +
                                         dev.info().name + " runs (" + std::to_string(dev.caps().loop_limit) +
                                         "); split the KV sequence");
    const uint32_t splits = static_cast<uint32_t>(std::max<uint64_t>(1, (pc.Skv + ch - 1) / ch));
    pc.chunk = static_cast<uint32_t>(ch);
    // Query rows per round: the grid's y (pass 1) and x (pass 2) limits, and partials of 64 MiB.
    const uint64_t row_bytes = uint64_t{splits} * (D + 2) * 4;
    const uint32_t per = static_cast<uint32_t>(
        std::min<uint64_t>({max_y, max_x, std::max<uint64_t>(1, (uint64_t{64} << 20) / row_bytes), rows}));
    Allocation part = q.scratch(per * row_bytes, "split-KV attention partials");
    const std::vector<uint32_t> spec = {D, 1, 1, dq, dkv, dout};
    const Pipeline& p1 = dev.pipelines().get("attention_decode", 5, spec);
    const Pipeline& p2 = dev.pipelines().get("attention_decode_reduce", 2, spec);
    for (uint32_t r0 = 0; r0 < rows; r0 += std::min(per, rows - r0)) {
      const uint32_t n = std::min(per, rows - r0);
      pc.row0 = r0;
      q.dispatch(p1, {ref(a.q, false), ref(a.k, false), ref(a.v, false), ref(part, true), ref(lens, false)},
                 &pc, sizeof pc, splits, n);
      AttnPush r = pc;
      r.chunk = splits;
      q.dispatch(p2, {ref(part, false), ref(a.out, true)}, &r, sizeof r, n);
    }
    return;
  }

  if (shared_bytes() > dev.caps().max_shared)
    throw Error(Errc::unsupported, "vulkan: attention: head dim " + std::to_string(D) + " needs " +
                                       std::to_string(shared_bytes()) + " bytes of shared memory; " +
                                       dev.info().name + " has " + std::to_string(dev.caps().max_shared));
  const Pipeline& p = dev.pipelines().get("attention_prefill", 5, {D, br, bc, dq, dkv, dout});
  // Chunks of the grid: query tiles (x), heads (y), batches (z); each chunk's tensors start
  // at shifted offsets. A head chunk holds whole GQA groups, so its query heads map onto its
  // own KV heads, or, for a group wider than the grid, lies inside one group (one KV head).
  const uint32_t group = pc.Hq / pc.Hkv;
  const uint32_t q_rows = max_x * br;
  const bool whole_groups = group <= max_y;
  auto shift = [&](int64_t off, int64_t elems, DType t) {
    return u32(off + elems * static_cast<int64_t>(dtype_size(t)), op, "byte offset");
  };
  auto heads_from = [&](uint32_t h0) {
    return whole_groups ? std::min(max_y / group * group, pc.Hq - h0) : std::min(max_y, group - h0 % group);
  };
  for (uint32_t b0 = 0, nb; b0 < pc.B; b0 += nb) {
    nb = std::min(max_z, pc.B - b0);
    for (uint32_t h0 = 0, nh; h0 < pc.Hq; h0 += nh) {
      nh = heads_from(h0);
      for (uint32_t i0 = 0, ni; i0 < pc.Sq; i0 += ni) {
        ni = std::min(q_rows, pc.Sq - i0);
        AttnPush c = pc;
        c.B = nb;
        c.Hq = nh;
        c.Hkv = whole_groups ? nh / group : 1;
        c.Sq = ni;
        c.q_tail = pc.Sq - i0 - ni;
        c.off_q =
            shift(a.q.offset, b0 * a.q.strides[0] + h0 * a.q.strides[1] + i0 * a.q.strides[2], a.q.dtype);
        c.off_o = shift(a.out.offset, b0 * a.out.strides[0] + h0 * a.out.strides[1] + i0 * a.out.strides[2],
                        a.out.dtype);
        c.off_k = shift(a.k.offset, b0 * a.k.strides[0] + (h0 / group) * a.k.strides[1], a.k.dtype);
        c.off_v = shift(a.v.offset, b0 * a.v.strides[0] + (h0 / group) * a.v.strides[1], a.v.dtype);
        if (a.kv_lens) c.off_lens = shift(a.kv_lens->offset, b0 * a.kv_lens->strides[0], DType::i32);
        q.dispatch(p, {ref(a.q, false), ref(a.k, false), ref(a.v, false), ref(a.out, true), ref(lens, false)},
                   &c, sizeof c, (ni + br - 1) / br, nh, nb);
      }
    }
  }
}

}  // namespace porta::vk
