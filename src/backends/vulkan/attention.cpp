// Attention dispatch: split-KV decode (attention_decode + _reduce) for a few query rows
// over a long KV cache, flash-style prefill (attention_prefill) otherwise.
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
  pc.causal = a.causal ? 1 : 0;
  pc.scale = a.scale;
  const TensorArg& lens = a.kv_lens ? *a.kv_lens : a.q;
  if (a.kv_lens) {
    pc.has_lens = 1;
    pc.off_lens = u32(a.kv_lens->offset, op, "byte offset");
    pc.s_lens = u32(a.kv_lens->strides[0], op, "stride");
  }
  const uint32_t dq = static_cast<uint32_t>(a.q.dtype), dkv = static_cast<uint32_t>(a.k.dtype),
                 dout = static_cast<uint32_t>(a.out.dtype);
  const uint32_t max_y = std::min<uint32_t>(dev.caps().max_groups[1], 65535u);
  const uint64_t rows = uint64_t{pc.B} * pc.Hq * pc.Sq;
  const uint32_t chunk = dev.tuning().attn_decode_chunk;

  if (pc.Sq <= 4 && pc.Skv >= 2 * chunk && rows <= max_y) {
    const uint32_t splits = (pc.Skv + chunk - 1) / chunk;
    pc.chunk = chunk;
    Allocation part = q.scratch(rows * splits * (D + 2) * 4, "decode attention partials");
    const std::vector<uint32_t> spec = {D, 1, 1, dq, dkv, dout};
    const Pipeline& p1 = dev.pipelines().get("attention_decode", 5, spec);
    const Pipeline& p2 = dev.pipelines().get("attention_decode_reduce", 2, spec);
    q.dispatch(p1, {ref(a.q, false), ref(a.k, false), ref(a.v, false), ref(part, true), ref(lens, false)},
               &pc, sizeof pc, splits, static_cast<uint32_t>(rows));
    AttnPush r = pc;
    r.chunk = splits;
    q.dispatch(p2, {ref(part, false), ref(a.out, true)}, &r, sizeof r, static_cast<uint32_t>(rows));
    return;
  }

  // Prefill tiles: as many query rows and keys per tile as shared memory allows.
  uint32_t br = 16, bc = 16;
  auto shared_bytes = [&] { return ((br + 2 * bc) * D + br * bc + 3 * br) * 4; };
  while (shared_bytes() > dev.caps().max_shared && bc > 4) br /= 2, bc /= 2;
  if (shared_bytes() > dev.caps().max_shared)
    throw Error(Errc::unsupported, "vulkan: attention: head dim " + std::to_string(D) + " needs " +
                                       std::to_string(shared_bytes()) + " bytes of shared memory; " +
                                       dev.info().name + " has " + std::to_string(dev.caps().max_shared));
  const uint32_t gx = (pc.Sq + br - 1) / br;
  if (pc.Hq > max_y || pc.B > std::min<uint32_t>(dev.caps().max_groups[2], 65535u) ||
      gx > dev.caps().max_groups[0])
    throw Error(Errc::unsupported,
                "vulkan: attention: batch/heads/query length exceed one dispatch's workgroups");
  const Pipeline& p = dev.pipelines().get("attention_prefill", 5, {D, br, bc, dq, dkv, dout});
  q.dispatch(p, {ref(a.q, false), ref(a.k, false), ref(a.v, false), ref(a.out, true), ref(lens, false)}, &pc,
             sizeof pc, gx, pc.Hq, pc.B);
}

}  // namespace porta::vk
