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

/// The split-KV decode's block kernels (attention_decode.cpp), shared with paged attention:
/// scores s[r*n + j] = q_r . k_j and acc_r += sum_j p[r*n + j] v_j over n K/V rows of `stride`
/// elements (unit element stride) read in place in their dtype; softmax is one online step.
struct BlockKernels {
  void (*scores)(DType, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s);
  void (*softmax)(float* s, int64_t R, int64_t n, const int64_t* visible, float* m, float* l, float* acc,
                  int64_t D);
  void (*accumulate)(DType, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                     float* acc);
  bool prefetches_ahead;  // the kernels prefetch the rows they will need next themselves
};
/// Kernels reading dtype t directly, or null (then convert rows to f32 first).
const BlockKernels* block_kernels_for(DType t, int64_t D);
/// The best kernels for f32 rows (the portable ones when no ISA set fits); never null.
const BlockKernels& f32_block_kernels(int64_t D);
/// Portable online-softmax step (the contract of BlockKernels::softmax).
void online_softmax_rows(float* s, int64_t R, int64_t n, const int64_t* visible, float* m, float* l, float* acc,
                         int64_t D);

void attention_prefill(ThreadPool& pool, const AttentionArgs& a);  // attention_prefill.cpp
void attention_decode(ThreadPool& pool, const AttentionArgs& a);   // attention_decode.cpp

}  // namespace porta::cpu
