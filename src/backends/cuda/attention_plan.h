// How an attention call is cut into blocks and KV splits: plain C++, unit-tested without a
// GPU. PORTA_CUDA_ATTN_PATH forces a path.
#pragma once

#include <cstdint>
#include <string>

#include "porta/dtype.h"

namespace porta::cuda {

enum class AttnPath : uint8_t { simt, sm80, sm90 };
const char* attn_path_name(AttnPath p);

enum class AttnForce : uint8_t { none, simt, sm80, sm90 };
bool parse_attn_force(const std::string& s, AttnForce* out);

struct AttnShape {
  int64_t B = 1, Hq = 1, Hkv = 1, Sq = 1, Skv = 1, D = 64;
  DType q = DType::f32, k = DType::f32, v = DType::f32;
  // Element strides [B, H, S, D] and device addresses (tensor-core eligibility).
  int64_t q_strides[4] = {0, 0, 0, 1}, k_strides[4] = {0, 0, 0, 1}, v_strides[4] = {0, 0, 0, 1};
  uint64_t q_addr = 0, k_addr = 0, v_addr = 0;
};

struct AttnDeviceFacts {
  int cc_major = 0;
  int sm_count = 1;
  bool nvidia_paths = true;  // the build carries the mma.sync kernels
};

/// Whether the FA2 (mma.sync) kernel takes this call: one f16/bf16 dtype for q, k, v, unit
/// stride along D, other strides multiples of 8 elements, 16-byte aligned bases.
bool attn_tensor_core_eligible(const AttnShape& s);

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
/// range is split so about four blocks per SM run, each split keeping >= 4 key tiles.
/// Prefill (Sq >= 16) on sm_80+ with eligible operands takes the FA2 kernel; the rest (and
/// decode) the portable split-KV kernel.
AttnPlan plan_attention(const AttnShape& s, const AttnDeviceFacts& dev, AttnForce force);

}  // namespace porta::cuda
