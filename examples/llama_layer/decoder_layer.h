// One Llama-style decoder layer on porta: RMSNorm, fused QKV projection, RoPE, GQA
// attention over a KV cache, output projection, SwiGLU MLP, residuals. Written only
// against the public API, as an inference engine would write it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "porta/comm.h"
#include "porta/porta.h"
#include "porta/quant.h"

namespace llama {

struct Config {
  int64_t hidden = 256;   // model width
  int64_t heads = 4;      // query heads
  int64_t kv_heads = 2;   // key/value heads (GQA)
  int64_t head_dim = 64;  // one of porta's attention head dims
  int64_t ffn = 512;      // MLP inner width
  int64_t max_seq = 64;   // KV cache length
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  porta::DType dtype = porta::DType::f32;  // weights, activations and KV cache
  /// Projection weights quantized on the device (ops::quantize from the dtype weights) when
  /// set: "int8" (g128), "int4" (Q4_0 rule, g128 or g32) or "fp8" (per channel); empty: dense.
  std::string weights;

  static Config tiny() { return Config{}; }
  /// Llama-3-8B's layer shapes (one layer).
  static Config llama3_8b() {
    Config c;
    c.hidden = 4096, c.heads = 32, c.kv_heads = 8, c.head_dim = 128, c.ffn = 14336, c.max_seq = 2048;
    c.rope_theta = 500000.0f;
    return c;
  }
  std::string str() const;
};

/// Weights as f32 host arrays, generated from a seed (so every device gets the same ones).
/// Linear weights are [out, in] row-major, as PyTorch stores them.
struct HostWeights {
  std::vector<float> attn_norm, wqkv, wo, ffn_norm, wgate_up, wdown, embedding, lm_head;
  static HostWeights random(const Config& c, uint64_t seed, int64_t vocab);
};

/// One step of a serving engine (continuous batching): the packed tokens of several
/// sequences, each a prefill chunk or a decode token, over a paged KV cache.
struct PagedStep {
  std::vector<int32_t> ids, positions;  // per token
  std::vector<int64_t> slots;           // per token: block * block_size + offset in the cache
  std::vector<int32_t> cu_seqlens_q;    // [B + 1]
  std::vector<int32_t> seq_lens;        // [B]: KV length after this step
  std::vector<int32_t> block_tables;    // [B, max_blocks]
  int64_t max_blocks = 0, max_q = 0, max_k = 0;
};

/// The layer on one device, with its KV cache. With a communicator `tp` of N ranks the
/// layer is this rank's tensor-parallel shard (Megatron style): QKV and gate/up split by
/// columns (whole heads: heads and kv_heads divisible by N), o and down by rows with an
/// all_reduce after each, the LM head split by vocabulary rows with an all_gather.
class DecoderLayer {
 public:
  DecoderLayer(const Config& c, const HostWeights& w, porta::Stream& s, porta::Communicator* tp = nullptr);

  /// Runs `ids` (token ids, i32 on the host) at positions [pos, pos + n): embedding, the
  /// layer, and returns the layer output [n, hidden] (in the layer's dtype).
  porta::Tensor forward(porta::Stream& s, const std::vector<int32_t>& ids, int64_t pos);

  /// Logits of the last row of `y` over the whole vocabulary, f32 [vocab] (gathered across
  /// ranks in tensor-parallel mode); greedy decoding takes their argmax.
  porta::Tensor logits(porta::Stream& s, const porta::Tensor& y);
  /// The serving form of forward(): the same layer over packed tokens of many sequences,
  /// their K/V written to and attention read from the paged `cache` (kv_cache_write,
  /// paged_attention). Returns [T, hidden].
  porta::Tensor forward_paged(porta::Stream& s, const PagedStep& step, porta::KvCache& cache);

  const Config& config() const { return c_; }

 private:
  /// y = x · wᵀ; through `q` instead of `w` when it is defined (Config::weights).
  porta::Tensor linear(porta::Stream& s, const porta::Tensor& x, const porta::Tensor& w,
                       const porta::QuantWeight& q = {});
  porta::QuantWeight quantized(porta::Stream& s, const porta::Tensor& w) const;

  Config c_;
  porta::Device dev_;
  porta::Communicator* tp_ = nullptr;
  int64_t heads_ = 0, kv_heads_ = 0, ffn_ = 0, vocab_ = 0;  // this rank's share
  porta::Tensor attn_norm_, wqkv_, wo_, ffn_norm_, wgate_up_, wdown_, embedding_, lm_head_;
  porta::QuantWeight qwqkv_, qwo_, qwgate_up_, qwdown_;  // defined when Config::weights is set
  porta::Tensor k_cache_, v_cache_;                      // [1, kv_heads, max_seq, head_dim]
};

}  // namespace llama
