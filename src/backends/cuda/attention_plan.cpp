#include "backends/cuda/attention_plan.h"

#include <algorithm>

namespace porta::cuda {

const char* attn_path_name(AttnPath p) {
  switch (p) {
    case AttnPath::simt: return "simt";
    case AttnPath::sm80: return "sm80";
    case AttnPath::sm90: return "sm90";
    case AttnPath::decode: return "decode";
  }
  return "?";
}

bool parse_attn_force(const std::string& s, AttnForce* out) {
  if (s.empty() || s == "auto")
    *out = AttnForce::none;
  else if (s == "simt")
    *out = AttnForce::simt;
  else if (s == "sm80")
    *out = AttnForce::sm80;
  else if (s == "sm90")
    *out = AttnForce::sm90;
  else
    return false;
  return true;
}

int64_t attn_simt_smem_bytes(const AttnPlan& p, int64_t D) {
  return 4 * (p.rows_per_block * D + p.key_tile * (D + 1) + p.key_tile * D);
}

bool attn_tensor_core_eligible(const AttnShape& s) {
  if (s.q != s.k || s.q != s.v || (s.q != DType::f16 && s.q != DType::bf16)) return false;
  // The head dims the FA2 kernel is instantiated for (core admits no others today).
  if (s.D != 64 && s.D != 80 && s.D != 96 && s.D != 128 && s.D != 256) return false;
  const int64_t* strides[3] = {s.q_strides, s.k_strides, s.v_strides};
  for (const int64_t* st : strides) {
    if (st[3] != 1) return false;
    for (int i = 0; i < 3; ++i)
      if (st[i] % 8 != 0) return false;
  }
  return s.q_addr % 16 == 0 && s.k_addr % 16 == 0 && s.v_addr % 16 == 0;
}

bool attn_head_dim_specialised(int64_t D) { return D == 64 || D == 128 || D == 256; }

AttnSm90Tiles attn_sm90_tiles(int64_t D) {
  AttnSm90Tiles t;
  t.rows = 128;
  // D = 256: 64 keys and 2 stages so Q + stages x (K + V) stays under 227 KiB.
  t.key_tile = D > 128 ? 64 : 128;
  t.stages = D > 128 ? 2 : 3;
  const int64_t q = int64_t(t.rows) * D * 2, kv = int64_t(t.key_tile) * D * 2;
  t.smem_bytes = q + t.stages * 2 * kv + 64 + 1024;  // barriers, slack to align tiles to 1024 bytes
  return t;
}

int64_t attn_decode_smem_bytes(int64_t D) { return 4 * 3 * 2 * 16 * D * 2 + 4 * kAttnDecodeMaxRows * D; }

namespace {

// Decode: one block per (batch, kv head, split); enough splits to fill one wave of the
// resident block slots (the row's count per SM, fewer where shared memory bounds them), none
// shorter than the row's minimum.
void plan_decode(const AttnShape& s, const AttnDeviceFacts& dev, const AttnTuning& t, AttnPlan* p) {
  p->path = AttnPath::decode;
  p->note = "split-KV decode (K/V read once per kv head)";
  p->rows_per_block = static_cast<int>(s.Sq * (s.Hq / s.Hkv));
  p->key_tile = 16;
  const int64_t per_sm = std::max<int64_t>(
      1, std::min<int64_t>(t.decode_blocks_per_sm,
                           (dev.smem_per_block + 1024) / (attn_decode_smem_bytes(s.D) + 1024)));
  const int64_t slots = per_sm * std::max(1, dev.partition_sms > 0 ? dev.partition_sms : dev.sm_count);
  const int64_t blocks = std::max<int64_t>(1, s.B * s.Hkv);
  int64_t splits =
      std::min<int64_t>({slots / blocks, s.Skv / t.decode_min_split_keys, int64_t{t.max_splits}});
  splits = std::max<int64_t>(1, splits);
  // Keys per split: a multiple of 64 (4 warps x 16-key tiles); recount so no split is empty.
  const int64_t per = std::max<int64_t>(64, ((s.Skv + splits - 1) / splits + 63) / 64 * 64);
  p->split_keys = per;
  p->splits = static_cast<int>(std::max<int64_t>(1, (s.Skv + per - 1) / per));
}

}  // namespace

AttnPlan plan_attention(const AttnShape& s, const AttnDeviceFacts& dev, AttnForce force,
                        const AttnTuning& t) {
  AttnPlan p;
  const bool eligible = attn_tensor_core_eligible(s);
  const bool tc = dev.nvidia_paths && dev.cc_major >= 8 && eligible;
  const int64_t group_rows = s.Sq * (s.Hq / std::max<int64_t>(1, s.Hkv));
  const bool decode_ok = tc && attn_head_dim_specialised(s.D) && group_rows <= kAttnDecodeMaxRows &&
                         attn_decode_smem_bytes(s.D) <= dev.smem_per_block;
  const bool sm90_ok = tc && dev.cc_major == 9 && dev.cc_minor == 0 && dev.sm90_kernel &&
                       attn_head_dim_specialised(s.D) &&
                       attn_sm90_tiles(s.D).smem_bytes <= dev.smem_per_block;
  if (force == AttnForce::none && decode_ok) {
    plan_decode(s, dev, t, &p);
    return p;
  }
  const bool forced_tc = force == AttnForce::sm80 || force == AttnForce::sm90;
  if (tc && (forced_tc || (force == AttnForce::none && s.Sq >= t.prefill_min_q))) {
    p.splits = 1;
    p.split_keys = s.Skv;
    if (sm90_ok && force != AttnForce::sm80) {
      const AttnSm90Tiles tiles = attn_sm90_tiles(s.D);
      p.path = AttnPath::sm90;
      p.note = "FA3-style prefill (wgmma, producer/consumer warpgroups)";
      p.rows_per_block = tiles.rows;
      p.key_tile = tiles.key_tile;
      return p;
    }
    p.path = AttnPath::sm80;
    p.note = force == AttnForce::sm90 ? "forced sm90, no wgmma kernel for this device/build/head dim: FA2"
                                      : "FA2-style prefill (mma.sync)";
    p.rows_per_block = 64;
    p.key_tile = s.D > 128 ? 32 : 64;
    return p;
  }
  p.path = AttnPath::simt;
  p.note = forced_tc ? "forced tensor-core attention does not take these dtypes/strides: portable kernel"
                     : "portable flash kernel";
  const int sm_count = dev.partition_sms > 0 ? dev.partition_sms : dev.sm_count;
  // D > 128 halves both tiles so Q, K and V stay under 48 KiB (64 KiB LDS on AMD parts).
  p.rows_per_block = s.D > 128 ? 8 : 16;
  p.key_tile = s.D > 128 ? 16 : 32;
  const int64_t blocks = (group_rows + p.rows_per_block - 1) / p.rows_per_block * s.B * s.Hkv;
  // Decode is bandwidth-bound: a few resident blocks per SM keep enough loads in flight.
  const int64_t want = std::max<int64_t>(1, int64_t{t.simt_blocks_per_sm} * sm_count);
  const int64_t key_tiles = (s.Skv + p.key_tile - 1) / p.key_tile;
  int64_t splits = 1;
  if (blocks > 0 && blocks < want)
    splits = std::min<int64_t>(
        {(want + blocks - 1) / blocks, key_tiles / t.simt_min_tiles_per_split, int64_t{t.max_splits}});
  splits = std::max<int64_t>(1, splits);
  const int64_t tiles_per_split = (key_tiles + splits - 1) / splits;
  p.split_keys = tiles_per_split * p.key_tile;
  p.splits =
      static_cast<int>(std::max<int64_t>(1, (s.Skv + p.split_keys - 1) / std::max<int64_t>(1, p.split_keys)));
  return p;
}

}  // namespace porta::cuda
