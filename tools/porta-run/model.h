// A decoder-only transformer (Llama / Qwen2 / Qwen3) on porta's public ops, with its KV
// cache: embedding, per layer RMSNorm → fused QKV (+bias) → [q/k head norm] → RoPE → GQA
// attention over the cache → output projection → residual → RMSNorm → fused gate/up →
// SiLU·up → down → residual, then the final norm and the LM head.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "porta/porta.h"
#include "weights.h"

namespace porta_run {

struct ModelOptions {
  porta::DType act = porta::DType::f32;  // activations and KV cache
  WeightFormat weights;
  int64_t ctx = 0;     // KV cache length; 0: min(model context, 4096)
  int64_t layers = 0;  // build only the first n layers (benchmarks); 0: all
  std::function<void(const std::string&)> progress;  // load progress lines, may be empty
};

class Model {
 public:
  Model(const Checkpoint& ck, porta::Stream& s, const ModelOptions& opt);

  /// Runs `ids` at positions [pos, pos + n) (the cache holds positions < pos) and returns
  /// f32 logits on the device: [n, vocab] when all_logits, else [1, vocab] for the last token.
  porta::Tensor forward(porta::Stream& s, const std::vector<int32_t>& ids, int64_t pos, bool all_logits);
  /// forward() with the logits copied to the host.
  std::vector<float> logits(porta::Stream& s, const std::vector<int32_t>& ids, int64_t pos, bool all_logits);

  const ModelConfig& config() const { return c_; }
  porta::DType act_dtype() const { return opt_.act; }
  /// The first layer's down projection (what benchmarks compare with porta's GEMM).
  const Weight& sample_weight() const { return layers_.empty() ? embed_ : layers_.front().w_down; }
  int64_t ctx() const { return ctx_; }
  int64_t layers_built() const { return static_cast<int64_t>(layers_.size()); }
  uint64_t weight_bytes() const { return weight_bytes_; }  // device bytes of all weights
  /// Bytes of weights one decode step reads (every layer, final norm and LM head; no embedding).
  uint64_t bytes_per_token() const { return bytes_per_token_; }
  /// Runs only the first k built layers (benchmarks separate per-layer time from the rest); -1: all.
  void set_active_layers(int64_t k) { active_layers_ = k; }
  /// Device bytes of one layer's weights (the first layer) and of the final norm + LM head.
  uint64_t layer_bytes() const { return layer_bytes_; }
  uint64_t head_bytes() const { return bytes_per_token_ - layer_bytes_ * layers_.size(); }
  /// Multiply-adds per token of one layer's projections and of the LM head (FLOPs = 2x).
  int64_t layer_macs() const;
  int64_t head_macs() const { return c_.vocab * c_.hidden; }
  /// "bf16 (as stored)", "bf16 (dequantized from Q4_K, not exact)", ... one entry per source format.
  const std::string& weights_summary() const { return summary_; }

 private:
  struct Layer {
    porta::Tensor attn_norm, bqkv, q_norm, k_norm, ffn_norm;
    Weight wqkv, wo, w_gate_up, w_down;
    porta::Tensor k_cache, v_cache;  // [1, Hkv, ctx, D]
  };
  Weight load(porta::Stream& s, const Checkpoint& ck, const std::vector<std::string>& names,
              const std::vector<std::vector<int64_t>>& shapes, bool table = false);
  porta::Tensor load_vector(porta::Stream& s, const Checkpoint& ck, const std::vector<std::string>& names,
                            const std::vector<std::vector<int64_t>>& shapes);
  porta::Tensor linear(porta::Stream& s, const porta::Tensor& x, const Weight& w, const porta::Tensor* bias);
  void linear_into(porta::Stream& s, const porta::Tensor& x, const Weight& w, const porta::Tensor* bias, porta::Tensor& y);
  void layer(porta::Stream& s, Layer& L, porta::Tensor& x, const porta::Tensor& pos, int64_t p0, int64_t n);

  ModelConfig c_;
  ModelOptions opt_;
  int64_t ctx_ = 0;
  porta::Device dev_;
  porta::Tensor out_norm_;
  Weight embed_, lm_head_;
  std::vector<Layer> layers_;
  uint64_t weight_bytes_ = 0, bytes_per_token_ = 0, layer_bytes_ = 0;
  int64_t active_layers_ = -1;
  std::string summary_;
  std::vector<std::string> formats_seen_;
};

}  // namespace porta_run
