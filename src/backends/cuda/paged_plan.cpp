#include "backends/cuda/paged_plan.h"

#include <algorithm>

namespace porta::cuda {

PagedLaunch plan_paged_attention(const PagedShape& s, int sms, const PagedTuning& t) {
  PagedLaunch p;
  const int64_t G = std::max<int64_t>(1, s.Hq / std::max<int64_t>(1, s.Hkv));
  const int64_t gh = std::min<int64_t>(G, t.max_rows);
  const int64_t qp = std::max<int64_t>(1, std::min<int64_t>(t.max_rows / gh, s.max_q));
  int rows = 1;
  while (rows < gh * qp) rows *= 2;
  p.group_heads = static_cast<int32_t>(gh);
  p.q_per_cta = static_cast<int32_t>(qp);
  p.rows = rows;
  const int64_t g_tiles = (G + gh - 1) / gh, q_tiles = (std::max<int64_t>(s.max_q, 1) + qp - 1) / qp;
  p.g_tiles = static_cast<int32_t>(g_tiles);
  p.q_tiles = static_cast<int32_t>(q_tiles);
  const int64_t items = s.B * q_tiles * s.Hkv * g_tiles;
  const int64_t want = int64_t{t.ctas_per_sm} * std::max(1, sms), align = t.split_align;
  int64_t splits = 1, chunk = std::max<int64_t>(align, (s.max_k + align - 1) / align * align);
  if (items > 0 && items < want && s.max_k > t.min_split_keys) {
    const uint64_t row_bytes = static_cast<uint64_t>(std::max<int64_t>(1, s.B * s.max_q * s.Hq)) *
                               static_cast<uint64_t>(s.D + 2) * 4;
    splits = std::min<int64_t>({(want + items - 1) / items,
                                (s.max_k + t.min_split_keys - 1) / t.min_split_keys, t.max_splits,
                                static_cast<int64_t>(std::max<uint64_t>(1, t.partial_bytes / row_bytes))});
    splits = std::max<int64_t>(1, splits);
    chunk = ((s.max_k + splits - 1) / splits + align - 1) / align * align;
    splits = std::max<int64_t>(1, (s.max_k + chunk - 1) / chunk);  // recount: no split is empty
  }
  p.splits = static_cast<int32_t>(splits);
  p.chunk = static_cast<int32_t>(std::min<int64_t>(chunk, int64_t{1} << 30));
  p.ctas = items * splits;
  return p;
}

int64_t paged_prefill_sm80_smem_bytes(int64_t D) {
  const int64_t keys = D > 128 ? 32 : 64, pitch = D + 8, stages = 2;
  return 2 * pitch * (64 + 2 * stages * keys) + stages * keys;
}

bool paged_use_tensor_cores(const PagedPathQuery& q) {
  if (!q.tc_compiled || q.cc_major < 8 || !q.eligible || q.force == AttnForce::simt) return false;
  if (q.B * q.Hq > 65535 || paged_prefill_sm80_smem_bytes(q.D) > q.smem_per_block) return false;
  return q.max_q >= q.prefill_min_q || q.force == AttnForce::sm80 || q.force == AttnForce::sm90;
}

}  // namespace porta::cuda
