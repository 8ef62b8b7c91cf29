// One entry per op family (one .cpp each), called by VulkanQueue after core's validation,
// plus the small helpers they share for packing tensors into push constants.
#pragma once

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

/// Workgroups for n items of `per_group`, capped at the device's limit (shaders loop).
uint32_t groups(VulkanQueue& q, uint64_t n, uint32_t per_group);

/// Most trips a kernel's main loop may take in one invocation: half the device's loop limit
/// (the rest is left to its other loops), or no limit. Launchers split longer work.
uint64_t max_trips(const VulkanDevice& dev);

}  // namespace porta::vk
