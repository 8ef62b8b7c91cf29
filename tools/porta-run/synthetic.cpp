#include "synthetic.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "load_error.h"
#include "porta/dtype.h"

namespace porta_run {
namespace {

ModelConfig preset_config(const std::string& name) {
  ModelConfig c;
  if (name == "llama3-8b") {
    c.arch = Arch::llama, c.vocab = 128256, c.hidden = 4096, c.layers = 32, c.heads = 32, c.kv_heads = 8;
    c.head_dim = 128, c.ffn = 14336, c.rope_theta = 500000, c.max_context = 8192;
  } else if (name == "llama3.2-1b") {
    c.arch = Arch::llama, c.vocab = 128256, c.hidden = 2048, c.layers = 16, c.heads = 32, c.kv_heads = 8;
    c.head_dim = 64, c.ffn = 8192, c.rope_theta = 500000, c.tied_embeddings = true, c.max_context = 8192;
    c.rope_freq_factors = llama3_freq_factors(64, 500000, 32, 1, 4, 8192), c.rope_scaling = "llama3";
  } else if (name == "qwen2.5-0.5b") {
    c.arch = Arch::qwen2, c.vocab = 151936, c.hidden = 896, c.layers = 24, c.heads = 14, c.kv_heads = 2;
    c.head_dim = 64, c.ffn = 4864, c.rope_theta = 1000000, c.qkv_bias = true, c.tied_embeddings = true;
  } else if (name == "qwen3-0.6b") {
    c.arch = Arch::qwen3, c.vocab = 151936, c.hidden = 1024, c.layers = 28, c.heads = 16, c.kv_heads = 8;
    c.head_dim = 128, c.ffn = 3072, c.rope_theta = 1000000, c.qk_norm = true, c.tied_embeddings = true;
  } else if (name == "small") {  // llama-shaped, fits 128 MiB allocations (lavapipe)
    c.arch = Arch::llama, c.vocab = 32000, c.hidden = 1024, c.layers = 8, c.heads = 16, c.kv_heads = 4;
    c.head_dim = 64, c.ffn = 4096, c.rope_theta = 500000;
  } else if (name == "tiny") {
    c.arch = Arch::llama, c.vocab = 512, c.hidden = 256, c.layers = 2, c.heads = 4, c.kv_heads = 2;
    c.head_dim = 64, c.ffn = 512;
  } else {
    std::string list;
    for (const std::string& p : synthetic_presets()) list += (list.empty() ? "" : ", ") + p;
    throw LoadError("--synthetic " + name + ": unknown preset (known: " + list + ")");
  }
  c.norm_eps = 1e-5;
  return c;
}

class SyntheticCheckpoint : public Checkpoint {
 public:
  SyntheticCheckpoint(const std::string& name, uint64_t seed) {
    config_ = preset_config(name);
    description_ = "synthetic " + name + " (random bf16 weights)";
    const ModelConfig& c = config_;
    const int64_t H = c.hidden, D = c.head_dim, F = c.ffn;
    add("model.embed_tokens.weight", {c.vocab, H}, 1.0f / std::sqrt(static_cast<float>(H)));  // shares the head's pool
    if (!c.tied_embeddings) add("lm_head.weight", {c.vocab, H}, 1.0f / std::sqrt(static_cast<float>(H)));
    add("model.norm.weight", {H}, 0.0f);
    for (int64_t l = 0; l < c.layers; ++l) {
      auto n = [&](const char* s) { return layer_name(l, s); };
      add(n("input_layernorm.weight"), {H}, 0.0f);
      add(n("post_attention_layernorm.weight"), {H}, 0.0f);
      add(n("self_attn.q_proj.weight"), {c.heads * D, H}, 1.0f / std::sqrt(static_cast<float>(H)));
      add(n("self_attn.k_proj.weight"), {c.kv_heads * D, H}, 1.0f / std::sqrt(static_cast<float>(H)));
      add(n("self_attn.v_proj.weight"), {c.kv_heads * D, H}, 1.0f / std::sqrt(static_cast<float>(H)));
      add(n("self_attn.o_proj.weight"), {H, c.heads * D}, 1.0f / std::sqrt(static_cast<float>(c.heads * D)));
      add(n("mlp.gate_proj.weight"), {F, H}, 1.0f / std::sqrt(static_cast<float>(H)));
      add(n("mlp.up_proj.weight"), {F, H}, 1.0f / std::sqrt(static_cast<float>(H)));
      add(n("mlp.down_proj.weight"), {H, F}, 1.0f / std::sqrt(static_cast<float>(F)));
      if (c.qkv_bias) {
        add(n("self_attn.q_proj.bias"), {c.heads * D}, 0.02f);
        add(n("self_attn.k_proj.bias"), {c.kv_heads * D}, 0.02f);
        add(n("self_attn.v_proj.bias"), {c.kv_heads * D}, 0.02f);
      }
      if (c.qk_norm) {
        add(n("self_attn.q_norm.weight"), {D}, 0.0f);
        add(n("self_attn.k_norm.weight"), {D}, 0.0f);
      }
    }
    // One buffer of unit-variance values per scale, as long as the largest tensor using it;
    // norm weights (scale 0) are ones.
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (auto& kv : pools_) {
      std::vector<uint16_t>& buf = kv.second;
      buf.resize(static_cast<size_t>(sizes_[kv.first]));
      for (uint16_t& v : buf) {
        float x = 1.0f;
        if (kv.first > 0) {  // sum of 4 uniforms: roughly normal, fast
          float u = 0;
          for (int k = 0; k < 4; ++k) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            u += static_cast<float>(state >> 40) * (1.0f / 16777216.0f) - 0.5f;
          }
          x = u * 1.7320508f * kv.first;
        }
        v = porta::float_to_bf16(x);
      }
    }
    for (auto& kv : tensors_) {
      kv.second.data = reinterpret_cast<const uint8_t*>(pools_[scale_of_[kv.first]].data());
    }
  }

  const TensorData* find(const std::string& hf_name) const override {
    auto it = tensors_.find(hf_name);
    return it == tensors_.end() ? nullptr : &it->second;
  }

 private:
  void add(const std::string& name, std::vector<int64_t> shape, float scale) {
    TensorData t;
    t.name = name;
    t.file = description_;
    t.type = SrcType::bf16;
    t.shape = std::move(shape);
    t.bytes = static_cast<uint64_t>(t.numel()) * 2;
    sizes_[scale] = std::max(sizes_[scale], t.numel());
    pools_[scale];
    scale_of_[name] = scale;
    tensors_[name] = std::move(t);
  }

  std::map<std::string, TensorData> tensors_;
  std::map<std::string, float> scale_of_;
  std::map<float, int64_t> sizes_;
  std::map<float, std::vector<uint16_t>> pools_;
};

}  // namespace

std::vector<std::string> synthetic_presets() { return {"llama3-8b", "llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b", "small", "tiny"}; }

std::unique_ptr<Checkpoint> open_synthetic(const std::string& preset, uint64_t seed) {
  return std::make_unique<SyntheticCheckpoint>(preset, seed);
}

}  // namespace porta_run
