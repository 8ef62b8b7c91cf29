// Attention dispatch: attention_plan.cpp cuts the call into blocks and KV splits; split
// partials go to the queue's workspace and are merged by the combine pass.
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "kernels/cuda/launch.h"

namespace porta::cuda {

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
                           std::to_string(d.Sq) + ", " + std::to_string(d.D) + "] kv [" + std::to_string(d.Hkv) +
                           ", " + std::to_string(d.Skv) + "] " + dtype_name(a.q.dtype);
  if (d.B * d.Hkv > 65535)
    throw Error(Errc::unsupported, std::string(PORTA_DIALECT_NAME) + ": " + what +
                                       ": batch x kv heads > 65535 is not supported; split the batch");
  AttnShape s;
  s.B = d.B, s.Hq = d.Hq, s.Hkv = d.Hkv, s.Sq = d.Sq, s.Skv = d.Skv, s.D = d.D;
  const AttnPlan plan = plan_attention(s, dev_.sm_count(), dev_.settings().attn);
  d.rows_per_block = plan.rows_per_block;
  d.key_tile = plan.key_tile;
  d.splits = plan.splits;
  d.split_keys = plan.split_keys;
  if (d.splits > 1) {
    const uint64_t rows = static_cast<uint64_t>(d.B * d.Hq * d.Sq);
    const uint64_t o_bytes = static_cast<uint64_t>(d.splits) * rows * static_cast<uint64_t>(d.D) * 4;
    char* ws = static_cast<char*>(workspace(o_bytes + static_cast<uint64_t>(d.splits) * rows * 2 * 4));
    d.part_o = reinterpret_cast<float*>(ws);
    d.part_ml = reinterpret_cast<float*>(ws + o_bytes);
  }
  check_launch(launch_attention_simt(d, stream_), what);
  if (d.splits > 1) check_launch(launch_attention_combine(d, stream_), what + " (split-KV combine)");
}

}  // namespace porta::cuda
