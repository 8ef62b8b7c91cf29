// One entry per op family (one .cpp each), called by VulkanQueue after core's validation,
// plus the small helpers they share for packing tensors into push constants.
#pragma once

#include <algorithm>
#include <string>

#include "backends/vulkan/stream.h"

namespace porta::vk {

void op_gemm(VulkanQueue& q, const GemmArgs& a);                       // gemm.cpp
void op_attention(VulkanQueue& q, const AttentionArgs& a);             // attention.cpp
void op_norm(VulkanQueue& q, const NormArgs& a, bool layer);           // norm.cpp
void op_rope(VulkanQueue& q, const RopeArgs& a);                       // rope.cpp
void op_softmax(VulkanQueue& q, const SoftmaxArgs& a);                 // softmax.cpp
void op_elementwise(VulkanQueue& q, const ElementwiseArgs& a);         // elementwise.cpp
void op_fill(VulkanQueue& q, const FillArgs& a);                       // fill.cpp
void op_embedding(VulkanQueue& q, const EmbeddingArgs& a);             // embedding.cpp
void op_argmax(VulkanQueue& q, const ArgmaxArgs& a);                   // argmax.cpp
void op_kv_cache_write(VulkanQueue& q, const KvCacheWriteArgs& a);     // paged.cpp
void op_copy_blocks(VulkanQueue& q, const CopyBlocksArgs& a);          // paged.cpp
void op_paged_attention(VulkanQueue& q, const PagedAttentionArgs& a);  // paged.cpp
void op_quantize(VulkanQueue& q, const QuantizeArgs& a);               // quant.cpp
void op_dequantize(VulkanQueue& q, const DequantizeArgs& a);           // quant.cpp
void op_gemm_quant(VulkanQueue& q, const QuantGemmArgs& a);            // quant.cpp
void op_embedding_quant(VulkanQueue& q, const QuantEmbeddingArgs& a);  // quant.cpp

/// A value that must fit the 32-bit index math of the shaders (byte addresses within one
/// binding, element counts); throws Error(unsupported) naming the op otherwise.
uint32_t u32(int64_t v, const char* op, const char* what);

/// Shape and strides of a rank <= 4 tensor right-aligned into 4 slots (leading 1s, stride 0).
struct Dims4 {
  uint32_t shape[4];
  uint32_t strides[4];
};
Dims4 dims4(const TensorArg& t, const char* op);
/// Strides of `t` aligned to the dims of `like` (same rank after core's broadcasting).
void strides4(const TensorArg& t, uint32_t out[4], const char* op);

/// Workgroups for n items of `per_group`, capped at the device's limit (shaders loop) and so
/// that the shaders' 32-bit grid-stride index cannot wrap past 2^32.
uint32_t groups(VulkanQueue& q, uint64_t n, uint32_t per_group);

/// Most trips a kernel's main loop may take in one invocation: half the device's loop limit
/// (the rest is left to its other loops), or no limit. Launchers split longer work.
uint64_t max_trips(const VulkanDevice& dev);

/// Row ops with one workgroup of `threads` per row that sweep the row `passes` times and run
/// `reductions` tree reductions: each invocation loops about passes * D / threads times. 0 when
/// that fits the device's loop budget (every GPU; llvmpipe stops a loop after 65,535
/// iterations and keeps what it has), else the chunk length for the split path (a workgroup per
/// chunk of a row, then a pass that folds the chunks), which keeps every invocation within it.
/// Throws Error(unsupported) naming the limit if even that cannot (rows past ~2^32 elements).
uint32_t row_split_chunk(VulkanDevice& dev, const char* op, uint64_t D, uint32_t threads, uint32_t passes,
                         uint32_t reductions);
/// Rows [0, rows) one workgroup each, in dispatches the grid holds: fn(row0, row_end, groups).
/// One row per workgroup keeps the per-invocation loop count independent of the row count.
template <typename Fn>
void for_row_chunks(VulkanQueue& q, uint64_t rows, Fn&& fn) {
  const uint32_t g = std::max<uint32_t>(1, groups(q, rows, 1));
  for (uint64_t r0 = 0; r0 < rows; r0 += g) {
    const uint64_t r1 = std::min<uint64_t>(rows, r0 + g);
    fn(static_cast<uint32_t>(r0), static_cast<uint32_t>(r1), static_cast<uint32_t>(r1 - r0));
  }
}

/// Chunks [0, nchunks) one workgroup each in dispatches the grid's x holds: sets c0 (the
/// push constant the shader adds to its workgroup x) and calls fn(groups) per dispatch.
template <typename Fn>
void for_chunk_rounds(VulkanQueue& q, uint32_t nchunks, uint32_t& c0, Fn&& fn) {
  const uint32_t g = std::max<uint32_t>(1, groups(q, nchunks, 1));
  for (c0 = 0; c0 < nchunks; c0 += g) fn(std::min(g, nchunks - c0));
  c0 = 0;
}

/// The split path of the row ops: rows [0, rows) in rounds of at most the grid's y limit and
/// 64 MiB of per-chunk statistics (`bytes_per_chunk` each); fn(row0, rows_in_round, scratch).
template <typename Fn>
void split_rows(VulkanQueue& q, uint64_t rows, uint32_t nchunks, uint32_t bytes_per_chunk, Fn&& fn) {
  const uint64_t row_bytes = uint64_t{nchunks} * bytes_per_chunk;
  const uint64_t per = std::max<uint64_t>(
      1, std::min<uint64_t>({rows, std::min<uint32_t>(q.device().caps().max_groups[1], 65535u),
                             (uint64_t{64} << 20) / row_bytes}));
  Allocation part = q.scratch(per * row_bytes, "row statistics");
  for (uint64_t r0 = 0; r0 < rows; r0 += per)
    fn(static_cast<uint32_t>(r0), static_cast<uint32_t>(std::min(per, rows - r0)), part);
}

}  // namespace porta::vk
