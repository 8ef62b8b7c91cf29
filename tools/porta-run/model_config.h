// What porta-run needs to know about a decoder-only model, from GGUF metadata or a Hugging
// Face config.json. Only the architectures below are accepted; anything else is refused by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "porta/ops.h"

namespace porta_run {

enum class Arch { llama, qwen2, qwen3 };
const char* arch_name(Arch a);

struct ModelConfig {
  Arch arch = Arch::llama;
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0;
  int64_t max_context = 4096;  // the model's trained context (config); --ctx may ask less
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  std::vector<float> rope_freq_factors;  // per rotated pair, divides the frequency (llama3 scaling); empty: none
  std::string rope_scaling;              // "llama3" or "" (for messages)
  bool qkv_bias = false;                 // Qwen2
  bool qk_norm = false;                  // Qwen3: RMSNorm over each head of q and k before RoPE
  bool tied_embeddings = false;          // the LM head is the embedding table
  porta::ops::RopeStyle rope_style = porta::ops::RopeStyle::neox;  // gptj for GGUF llama (q/k permuted)
  std::vector<int32_t> eos_ids;
  int32_t bos_id = -1;

  std::string str() const;  // one line for the log
  /// Throws LoadError naming `source` when a value is out of range or unsupported by porta.
  void check(const std::string& source) const;
};

/// Llama 3's frequency scaling ("rope_type": "llama3"): the factor each pair's frequency is
/// divided by, for head dim `rot` and base `theta`.
std::vector<float> llama3_freq_factors(int64_t rot, double theta, double factor, double low_freq_factor,
                                       double high_freq_factor, double original_context);

}  // namespace porta_run
