// Attention dispatch: attention_plan.cpp picks the kernel (FA3 sm90, FA2 sm80, decode or
// portable) and cuts the call into blocks and KV splits; split partials go to the queue's
// workspace and are merged by the combine pass.
#include <algorithm>
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "kernels/cuda/launch.h"

namespace porta::cuda {

namespace {

// One launch sequence (kernel, then the combine pass when split) for d's batch entries,
// whose count keeps every grid dimension within 65535.
void run_attention(CudaQueue& queue, const backend::AttentionArgs& a, AttentionDesc d,
                   const std::string& what) {
  CudaDevice& dev = queue.device();
  AttnShape s;
  s.B = d.B, s.Hq = d.Hq, s.Hkv = d.Hkv, s.Sq = d.Sq, s.Skv = d.Skv, s.D = d.D;
  s.q = a.q.dtype, s.k = a.k.dtype, s.v = a.v.dtype;
  for (int i = 0; i < 4; ++i)
    s.q_strides[i] = a.q.strides[i], s.k_strides[i] = a.k.strides[i], s.v_strides[i] = a.v.strides[i];
  s.q_addr = reinterpret_cast<uintptr_t>(d.q.ptr);
  s.k_addr = reinterpret_cast<uintptr_t>(d.k.ptr);
  s.v_addr = reinterpret_cast<uintptr_t>(d.v.ptr);
  AttnDeviceFacts facts;
  facts.cc_major = dev.gemm_facts().cc_major;
  facts.cc_minor = dev.gemm_facts().cc_minor;
  facts.sm_count = dev.sm_count();
  facts.partition_sms = dev.gemm_facts().partition_sms;
  facts.nvidia_paths = attention_sm80_compiled() && attention_decode_compiled();
  facts.sm90_kernel = attention_sm90_compiled();
  facts.smem_per_block = static_cast<int64_t>(dev.info().shared_memory_bytes);
  const AttnPlan plan = plan_attention(s, facts, dev.settings().attn, dev.tuning().attn);
  if (plan.path == AttnPath::sm80 || plan.path == AttnPath::sm90) {
    if (plan.path == AttnPath::sm90)
      queue.check_launch(launch_attention_sm90(d, queue.stream()), what + " (FA3 wgmma)");
    else
      queue.check_launch(launch_attention_sm80(d, queue.stream()), what + " (FA2 mma.sync)");
    return;
  }
  d.rows_per_block = plan.rows_per_block;
  d.key_tile = plan.key_tile;
  d.splits = plan.splits;
  d.split_keys = plan.split_keys;
  auto vec_ok = [](const backend::TensorArg& t, const TDesc& td) {
    return (t.dtype == DType::f16 || t.dtype == DType::bf16) && t.strides[3] == 1 && t.strides[0] % 8 == 0 &&
           t.strides[1] % 8 == 0 && t.strides[2] % 8 == 0 && reinterpret_cast<uintptr_t>(td.ptr) % 16 == 0;
  };
  d.vec_kv = d.D % 8 == 0 && a.k.dtype == a.v.dtype && vec_ok(a.k, d.k) && vec_ok(a.v, d.v);
  if (d.splits > 1) {
    const uint64_t rows = static_cast<uint64_t>(d.B * d.Hq * d.Sq);
    const uint64_t o_bytes = static_cast<uint64_t>(d.splits) * rows * static_cast<uint64_t>(d.D) * 4;
    char* ws = static_cast<char*>(queue.workspace(o_bytes + static_cast<uint64_t>(d.splits) * rows * 2 * 4));
    d.part_o = reinterpret_cast<float*>(ws);
    d.part_ml = reinterpret_cast<float*>(ws + o_bytes);
  }
  if (plan.path == AttnPath::decode)
    queue.check_launch(launch_attention_decode(d, queue.stream()), what + " (split-KV decode)");
  else
    queue.check_launch(launch_attention_simt(d, queue.stream()), what);
  if (d.splits > 1)
    queue.check_launch(launch_attention_combine(d, queue.stream()), what + " (split-KV combine)");
}

}  // namespace

void CudaQueue::attention(const backend::AttentionArgs& a) {
  set_device(dev_.ordinal());
  AttentionDesc d;
  d.q = to_desc(a.q);
  d.k = to_desc(a.k);
  d.v = to_desc(a.v);
  d.out = to_desc(a.out);
  if (a.kv_lens) d.kv_lens = to_desc(*a.kv_lens);
  d.B = a.q.shape[0], d.Hq = a.q.shape[1], d.Sq = a.q.shape[2], d.D = a.q.shape[3];
  d.Hkv = a.k.shape[1], d.Skv = a.k.shape[2];
  d.scale = a.scale;
  d.causal = a.causal;
  if (d.B == 0 || d.Hq == 0 || d.Sq == 0) return;
  const std::string what = "attention q [" + std::to_string(d.B) + ", " + std::to_string(d.Hq) + ", " +
                           std::to_string(d.Sq) + ", " + std::to_string(d.D) + "] kv [" +
                           std::to_string(d.Hkv) + ", " + std::to_string(d.Skv) + "] " +
                           dtype_name(a.q.dtype);
  // Kernels put batch x heads (query heads on the tensor-core paths) in grid.y, at most
  // 65535: larger batches run in chunks of whole batch entries, and more than 65535 query
  // heads in chunks of heads (whole GQA groups with their KV heads, or pieces of one group).
  if (d.Hq > 65535) {
    const int64_t group = d.Hq / d.Hkv;
    const int64_t kv_per = std::max<int64_t>(1, 65535 / group);  // KV heads per chunk
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t hk0 = 0; hk0 < d.Hkv; hk0 += kv_per) {
        const int64_t nk = std::min(kv_per, d.Hkv - hk0), heads = nk * group;
        const int64_t q_per = group > 65535 ? 65535 : heads;  // one KV head: its group in pieces
        for (int64_t h0 = 0; h0 < heads; h0 += q_per) {
          AttentionDesc dc = d;
          dc.B = 1;
          dc.Hq = std::min(q_per, heads - h0);
          dc.Hkv = group > 65535 ? 1 : nk;
          dc.q = slice_desc(slice_desc(d.q, 0, b, 1), 1, hk0 * group + h0, dc.Hq);
          dc.out = slice_desc(slice_desc(d.out, 0, b, 1), 1, hk0 * group + h0, dc.Hq);
          dc.k = slice_desc(slice_desc(d.k, 0, b, 1), 1, hk0, dc.Hkv);
          dc.v = slice_desc(slice_desc(d.v, 0, b, 1), 1, hk0, dc.Hkv);
          if (a.kv_lens) dc.kv_lens = slice_desc(d.kv_lens, 3, b, 1);
          run_attention(
              *this, a, dc,
              what + " (batch " + std::to_string(b) + ", heads " + std::to_string(hk0 * group + h0) + "..)");
        }
      }
    return;
  }
  const int64_t chunk = std::max<int64_t>(1, 65535 / d.Hq);
  for (int64_t b0 = 0; b0 < d.B; b0 += chunk) {
    const int64_t nb = std::min(chunk, d.B - b0);
    AttentionDesc dc = d;  // one chunk of all B entries is d itself
    dc.B = nb;
    dc.q = slice_desc(d.q, 0, b0, nb);
    dc.k = slice_desc(d.k, 0, b0, nb);
    dc.v = slice_desc(d.v, 0, b0, nb);
    dc.out = slice_desc(d.out, 0, b0, nb);
    if (a.kv_lens) dc.kv_lens = slice_desc(d.kv_lens, 3, b0, nb);
    run_attention(*this, a, dc, nb == d.B ? what : what + " (batch " + std::to_string(b0) + "..)");
  }
}

}  // namespace porta::cuda
