// Shared pieces of the cpu serving kernels (paged_cache.cpp, paged_attention.cpp): addresses
// inside a block cache and reads of device-resident indices.
#pragma once

#include <cstdint>

#include "backends/cpu/cpu_kernels.h"

namespace porta::cpu {

/// Element [i] of a rank-1 (or [i, j] of a rank-2) i32/i64 index tensor, as int64.
inline int64_t load_index(const TensorArg& t, int64_t i, int64_t j = 0) {
  const int64_t off = i * t.strides[0] + (t.rank > 1 ? j * t.strides[1] : 0);
  return t.dtype == DType::i64 ? t.host<int64_t>()[off] : t.host<int32_t>()[off];
}

/// Byte address of cache row [block, slot, head, 0] of k or v.
inline char* cache_row(const TensorArg& t, int64_t block, int64_t slot, int64_t head) {
  return t.host<char>() + (block * t.strides[0] + slot * t.strides[1] + head * t.strides[2]) *
                              static_cast<int64_t>(dtype_size(t.dtype));
}

/// Address of scale [block, slot, head] of an int8 cache.
inline float* cache_scale(const TensorArg& t, int64_t block, int64_t slot, int64_t head) {
  return t.host<float>() + block * t.strides[0] + slot * t.strides[1] + head * t.strides[2];
}

}  // namespace porta::cpu
