// Shared pieces of the cpu attention kernels.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/dtype_io.h"

namespace porta::cpu {

/// Address of element [b, h, s, 0] of a rank-4 attention tensor.
inline char* attn_row(const TensorArg& t, int64_t b, int64_t h, int64_t s) {
  return t.host<char>() +
         (b * t.strides[0] + h * t.strides[1] + s * t.strides[2]) * static_cast<int64_t>(dtype_size(t.dtype));
}

/// Valid KV length of batch entry b: kv_lens[b] clamped to [0, Skv], or Skv.
inline int64_t kv_length(const AttentionArgs& a, int64_t b) {
  const int64_t skv = a.k.shape[2];
  if (!a.kv_lens) return skv;
  const int32_t v = a.kv_lens->host<int32_t>()[b * a.kv_lens->strides[0]];
  return std::clamp<int64_t>(v, 0, skv);
}

/// Last key index (exclusive bound) query i may see.
inline int64_t key_limit(const AttentionArgs& a, int64_t i, int64_t len) {
  if (!a.causal) return len;
  const int64_t sq = a.q.shape[2];
  return std::clamp<int64_t>(i + (len - sq) + 1, 0, len);
}

void attention_prefill(ThreadPool& pool, const AttentionArgs& a);  // attention_prefill.cpp
void attention_decode(ThreadPool& pool, const AttentionArgs& a);   // attention_decode.cpp

}  // namespace porta::cpu
