#include "backends/cuda/attention_plan.h"

#include <algorithm>

namespace porta::cuda {

const char* attn_path_name(AttnPath p) {
  switch (p) {
    case AttnPath::simt: return "simt";
    case AttnPath::sm80: return "sm80";
    case AttnPath::sm90: return "sm90";
  }
  return "?";
}

bool parse_attn_force(const std::string& s, AttnForce* out) {
  if (s.empty() || s == "auto") *out = AttnForce::none;
  else if (s == "simt") *out = AttnForce::simt;
  else if (s == "sm80") *out = AttnForce::sm80;
  else if (s == "sm90") *out = AttnForce::sm90;
  else return false;
  return true;
}

int64_t attn_simt_smem_bytes(const AttnPlan& p, int64_t D) {
  return 4 * (p.rows_per_block * D + p.key_tile * (D + 1) + p.key_tile * D);
}

AttnPlan plan_attention(const AttnShape& s, int sm_count, AttnForce force) {
  AttnPlan p;
  // Only the portable kernel exists so far; forced tensor-core paths say so in the note.
  p.path = AttnPath::simt;
  p.note = force == AttnForce::none || force == AttnForce::simt
               ? "portable flash kernel"
               : "forced tensor-core attention is not built yet: portable flash kernel";
  // D > 128 halves both tiles so Q, K and V stay under 48 KiB (64 KiB LDS on AMD parts).
  p.rows_per_block = s.D > 128 ? 8 : 16;
  p.key_tile = s.D > 128 ? 16 : 32;
  const int64_t group_rows = s.Sq * (s.Hq / std::max<int64_t>(1, s.Hkv));
  const int64_t blocks = (group_rows + p.rows_per_block - 1) / p.rows_per_block * s.B * s.Hkv;
  const int64_t want = std::max<int64_t>(1, 2 * static_cast<int64_t>(sm_count));
  const int64_t key_tiles = (s.Skv + p.key_tile - 1) / p.key_tile;
  int64_t splits = 1;
  if (blocks > 0 && blocks < want) splits = std::min<int64_t>({(want + blocks - 1) / blocks, key_tiles / 4, 64});
  splits = std::max<int64_t>(1, splits);
  const int64_t tiles_per_split = (key_tiles + splits - 1) / splits;
  p.split_keys = tiles_per_split * p.key_tile;
  p.splits = static_cast<int>(std::max<int64_t>(1, (s.Skv + p.split_keys - 1) / std::max<int64_t>(1, p.split_keys)));
  return p;
}

}  // namespace porta::cuda
