// Float64 forward pass of a Llama / Qwen2 / Qwen3 decoder, written from the architectures'
// definitions (Hugging Face modeling code) without porta: the truth porta-run's logits are
// checked against. Weights use Hugging Face names and layouts ([out, in], rotate-half RoPE).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace porta::ref {

struct DecoderSpec {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0;
  double rope_theta = 10000, norm_eps = 1e-5;
  std::vector<double> freq_factors;  // empty, or head_dim/2 divisors of the pair frequencies
  bool qkv_bias = false, qk_norm = false, tied = false;
};

using WeightMap = std::map<std::string, std::vector<double>>;

/// Logits [n, vocab] (row-major) for tokens ids at positions 0..n-1, causal attention.
std::vector<double> decoder_logits(const DecoderSpec& spec, const WeightMap& w, const std::vector<int32_t>& ids);

}  // namespace porta::ref
