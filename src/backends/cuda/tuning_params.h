// The fields of the CUDA/HIP tuning rows (tuning.h holds the table): plain structs the
// planners take, so each planner header needs nothing else.
#pragma once

#include <cstdint>

namespace porta::cuda {

/// plan_gemm (gemm_plan.cpp).
struct GemmTuning {
  int gemv_max_m = 16;          // M at or below this takes gemv.cu (<= its block_m, 16)
  int splitk_min_k_tiles = 8;   // split-K: each split keeps at least this many K tiles
  int splitk_max = 16;          // ... and at most this many splits
  int gemv_blocks_per_sm = 2;   // gemv: split K until about this many blocks per SM ...
  int gemv_min_split_k = 1024;  // ... each K range at least this long ...
  int gemv_max_splits = 16;     // ... at most this many
};

/// plan_attention (attention_plan.cpp).
struct AttnTuning {
  int prefill_min_q = 16;            // tensor-core prefill (FA2/FA3) from this many queries
  int simt_blocks_per_sm = 4;        // portable kernel: split the KV range until this many blocks per SM
  int simt_min_tiles_per_split = 4;  // ... each split at least this many key tiles
  int decode_blocks_per_sm = 2;      // decode kernel: resident blocks per SM planned for, at most
  int decode_min_split_keys = 256;   // ... no split shorter (4 tiles per warp)
  int max_splits = 64;               // either kernel (the combine pass takes any count)
};

/// The quantized-weight GEMM launcher (ops_quant.cpp).
struct QuantTuning {
  int gemv_max_m = 16;  // M at or below this streams the packed weights (quant GEMV, <= 16)
  int block_mib = 256;  // M above: dequantized weight rows per block, in MiB of the activation dtype
};

/// The split-KV kernel's planning parameters, one named-field row (the kernel's own shape, 4
/// warps of 16-key tiles, is fixed in paged_attention.cu).
struct PagedTuning {
  int max_rows = 8;              // rows per CTA sharing each K/V load; <= 8 (the kernel's variants)
  int ctas_per_sm = 4;           // splits only while fewer CTAs than this per SM would run
  int64_t min_split_keys = 256;  // no split shorter (4 tiles per warp)
  int max_splits = 64;
  int split_align = 64;  // keys per split are a multiple (of 16 at least: the kernel's tiles)
  uint64_t partial_bytes = uint64_t{256} << 20;  // the split partials' workspace (m, l, D accumulators)
};

}  // namespace porta::cuda
