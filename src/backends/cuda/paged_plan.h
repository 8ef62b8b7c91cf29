// How a paged_attention call is cut into CTAs and KV splits (kernels/cuda/paged_attention.cu):
// plain C++, unit-tested without a GPU.
#pragma once

#include <cstdint>

#include "kernels/cuda/paged_args.h"

namespace porta::cuda {

struct PagedShape {
  int64_t B = 1, Hq = 1, Hkv = 1, D = 128;
  int64_t max_q = 1, max_k = 0;  // core's resolved bounds (max_k <= max_blocks * block_size)
};

/// Row capacity of one CTA (query heads x positions sharing each K/V load).
constexpr int kPagedMaxRows = 8;
/// Bytes the split partials may take (m, l, D accumulators per row and split).
constexpr uint64_t kPagedPartialBytes = uint64_t{256} << 20;

/// Rows: the GQA group's heads first (up to 8; larger groups in tiles), then as many query
/// positions as fit. KV splits only when the CTAs without them would not fill the device
/// (about 4 resident 4-warp CTAs per SM): at most 64, each at least 256 keys, a multiple of
/// 64 keys, within kPagedPartialBytes. `sms`: the SM count planned for (PORTA_DETERMINISTIC
/// passes a fixed one, so the split and its rounding depend on the shape alone).
PagedLaunch plan_paged_attention(const PagedShape& s, int sms);

}  // namespace porta::cuda
