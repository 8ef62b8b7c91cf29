// How an attention call is cut into blocks and KV splits: plain C++, unit-tested without a
// GPU. PORTA_CUDA_ATTN_PATH forces a path.
#pragma once

#include <cstdint>
#include <string>

namespace porta::cuda {

enum class AttnPath : uint8_t { simt, sm80, sm90 };
const char* attn_path_name(AttnPath p);

enum class AttnForce : uint8_t { none, simt, sm80, sm90 };
bool parse_attn_force(const std::string& s, AttnForce* out);

struct AttnShape {
  int64_t B = 1, Hq = 1, Hkv = 1, Sq = 1, Skv = 1, D = 64;
};

struct AttnPlan {
  AttnPath path = AttnPath::simt;
  int rows_per_block = 16;  // query rows per block (s-major over the GQA group), <= 16
  int key_tile = 32;        // keys per shared tile, <= 32
  int splits = 1;           // KV splits (partials merged by the combine pass)
  int64_t split_keys = 0;   // keys per split, a multiple of key_tile
  std::string note;
};

/// Shared memory the portable kernel needs for a plan (f32 tiles of Q, K and V).
int64_t attn_simt_smem_bytes(const AttnPlan& p, int64_t D);

/// Blocks cover (B x Hkv) x ceil(Sq*G / rows); when that leaves SMs idle (decode), the KV
/// range is split so about two blocks per SM run, each split keeping >= 4 key tiles.
AttnPlan plan_attention(const AttnShape& s, int sm_count, AttnForce force);

}  // namespace porta::cuda
