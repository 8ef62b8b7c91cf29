// How a paged_attention call is cut into CTAs and KV splits (kernels/cuda/paged_attention.cu):
// plain C++, unit-tested without a GPU.
#pragma once

#include <cstdint>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/tuning_params.h"
#include "kernels/cuda/paged_args.h"

namespace porta::cuda {

struct PagedShape {
  int64_t B = 1, Hq = 1, Hkv = 1, D = 128;
  int64_t max_q = 1, max_k = 0;  // core's resolved bounds (max_k <= max_blocks * block_size)
};

inline constexpr PagedTuning kPagedTuning{};

/// Rows: the GQA group's heads first (up to max_rows; larger groups in tiles), then as many query
/// positions as fit. KV splits only when the CTAs without them would not fill the device
/// (ctas_per_sm per SM): at most max_splits, each at least min_split_keys, a multiple of
/// split_align keys, within partial_bytes. `sms`: the SM count planned for (PORTA_DETERMINISTIC
/// passes a fixed one, so the split and its rounding depend on the shape alone).
PagedLaunch plan_paged_attention(const PagedShape& s, int sms, const PagedTuning& t = kPagedTuning);

/// Dynamic shared memory of the tensor-core prefill kernel (Q tile, two stages of K and V tiles
/// of padded rows, block-validity flags), mirrored by PagedFa2Tiles in paged_prefill_sm80.cu.
int64_t paged_prefill_sm80_smem_bytes(int64_t D);

struct PagedPathQuery {
  bool tc_compiled = false;  // the build carries paged_prefill_sm80.cu's kernel (not hip)
  int cc_major = 0;
  AttnForce force = AttnForce::none;  // PORTA_CUDA_ATTN_PATH
  bool eligible = false;              // plain f16/bf16 cache of q's dtype, q and cache rows 16-byte aligned
  int64_t B = 1, Hq = 1, D = 128, max_q = 1;
  int64_t prefill_min_q = 16;  // AttnTuning::prefill_min_q
  int64_t smem_per_block = 0;  // opt-in dynamic shared memory per block (bytes)
};

/// Whether paged_attention takes the tensor-core prefill kernel: eligible operands on sm_80+,
/// B * Hq <= 65535 (grid.y), its shared memory fits, and prefill-sized queries (max_seqlen_q
/// >= prefill_min_q; any with PORTA_CUDA_ATTN_PATH=sm80/sm90); never with PORTA_CUDA_ATTN_PATH=simt.
/// Otherwise the split-KV kernel (every format, dtype and stride; hip).
bool paged_use_tensor_cores(const PagedPathQuery& q);

}  // namespace porta::cuda
