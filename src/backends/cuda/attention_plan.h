// How an attention call is cut into blocks and KV splits: plain C++, unit-tested without a
// GPU. PORTA_CUDA_ATTN_PATH forces a path.
#pragma once

#include <cstdint>
#include <string>

#include "backends/cuda/tuning_params.h"
#include "porta/dtype.h"

namespace porta::cuda {

enum class AttnPath : uint8_t { simt, sm80, sm90, decode };
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
  bool nvidia_paths = true;    // the build carries the mma.sync / cp.async kernels (not hip)
  bool sm90_kernel = false;    // the build carries the sm_90a wgmma attention kernel
  int64_t smem_per_block = 0;  // opt-in dynamic shared memory per block (bytes)
  int cc_minor = 0;            // with cc_major: sm_90a code runs on 9.0 only
  int partition_sms = 0;       // SMs assumed when choosing split-KV counts; 0: sm_count (gemm_plan.h)
};

/// Whether the FA2 (mma.sync) kernel takes this call: one f16/bf16 dtype for q, k, v, unit
/// stride along D, other strides multiples of 8 elements, 16-byte aligned bases.
bool attn_tensor_core_eligible(const AttnShape& s);

/// Head dims the FA3 (sm90) and decode kernels are instantiated for.
bool attn_head_dim_specialised(int64_t D);

/// Tiles of the FA3-style sm_90a kernel per head dim (data, mirrored by Fa3Tiles in
/// attention_sm90_wgmma.cu): 128 query rows (2 consumer warpgroups x 64), keys per stage,
/// K/V ring stages, and the dynamic shared memory it asks for (Q + stages x (K + V) +
/// barriers + alignment slack).
struct AttnSm90Tiles {
  int rows = 128, key_tile = 128, stages = 2;
  int64_t smem_bytes = 0;
};
AttnSm90Tiles attn_sm90_tiles(int64_t D);

/// Query rows (Sq * G) the decode kernel holds per KV head, at most.
constexpr int64_t kAttnDecodeMaxRows = 8;
/// Dynamic shared memory of the decode kernel (4 warps x 3 stages x 16 keys of K and V, plus q
/// as f32 for up to 8 rows), mirrored by DecodeTiles in attention_decode.cu.
int64_t attn_decode_smem_bytes(int64_t D);

struct AttnPlan {
  AttnPath path = AttnPath::simt;
  int rows_per_block = 16;  // query rows per block (s-major over the GQA group), <= 16
  int key_tile = 32;        // keys per shared tile (portable kernel: <= 32)
  int splits = 1;           // KV splits (partials merged by the combine pass)
  int64_t split_keys = 0;   // keys per split, a multiple of key_tile
  std::string note;
};

/// Shared memory the portable kernel needs for a plan (f32 tiles of Q, K and V).
int64_t attn_simt_smem_bytes(const AttnPlan& p, int64_t D);

/// Choice, in order (force none):
///  - decode kernel: NVIDIA build, eligible operands, D in {64, 128, 256}, Sq * G <= 8. One
///    block per (batch, kv head, split); splits fill the resident block slots of one wave
///    (t.decode_blocks_per_sm per SM, fewer where shared memory bounds them), each split at
///    least t.decode_min_split_keys keys;
///  - prefill (Sq >= t.prefill_min_q) with eligible operands on sm_80+: the FA3 kernel on sm_90
///    when the build carries it and D is specialised, else FA2;
///  - the rest: the portable split-KV kernel (splits for about t.simt_blocks_per_sm blocks per
///    SM, each at least t.simt_min_tiles_per_split key tiles).
/// Either split-KV kernel takes at most t.max_splits splits.
/// force sm90/sm80 takes the tensor-core kernel whenever the operands allow (sm90 falls back
/// to FA2 off sm_90 or for other head dims); force simt the portable kernel. hip builds
/// (nvidia_paths false) never get sm80, sm90 or decode.
AttnPlan plan_attention(const AttnShape& s, const AttnDeviceFacts& dev, AttnForce force,
                        const AttnTuning& t = AttnTuning{});

}  // namespace porta::cuda
