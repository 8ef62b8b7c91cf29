// Entry points of the cpu backend's kernels, one file (or family of files) each.
// Arguments are validated and normalised by core (see src/core/backend.h).
#pragma once

#include "backends/cpu/thread_pool.h"
#include "core/backend.h"

namespace porta::cpu {

using namespace porta::backend;

void gemm(ThreadPool& pool, const GemmArgs& a);                // gemm.cpp
void attention(ThreadPool& pool, const AttentionArgs& a);      // attention.cpp
void rms_norm(ThreadPool& pool, const NormArgs& a);            // norm.cpp
void layer_norm(ThreadPool& pool, const NormArgs& a);          // norm.cpp
void rope(ThreadPool& pool, const RopeArgs& a);                // rope.cpp
void softmax(ThreadPool& pool, const SoftmaxArgs& a);          // softmax.cpp
void elementwise(ThreadPool& pool, const ElementwiseArgs& a);  // elementwise.cpp
void fill(ThreadPool& pool, const FillArgs& a);                // fill.cpp
void embedding(ThreadPool& pool, const EmbeddingArgs& a);      // embedding.cpp
void argmax(ThreadPool& pool, const ArgmaxArgs& a);            // argmax.cpp
// quantized weights: quant.cpp
void quant_quantize(ThreadPool& pool, const QuantizeArgs& a);
void quant_dequantize(ThreadPool& pool, const DequantizeArgs& a);
void quant_gemm(ThreadPool& pool, const QuantGemmArgs& a);
void quant_embedding(ThreadPool& pool, const QuantEmbeddingArgs& a);
void kv_cache_write(ThreadPool& pool, const KvCacheWriteArgs& a);      // paged_cache.cpp
void copy_blocks(ThreadPool& pool, const CopyBlocksArgs& a);           // paged_cache.cpp
void paged_attention(ThreadPool& pool, const PagedAttentionArgs& a);  // paged_attention.cpp

}  // namespace porta::cpu
