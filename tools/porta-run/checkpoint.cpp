#include "checkpoint.h"

#include <sys/stat.h>

#include "load_error.h"

namespace porta_run {

std::string layer_name(int64_t layer, const std::string& suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix;
}

const TensorData& Checkpoint::get(const std::string& hf_name, const std::vector<int64_t>& shape) const {
  const TensorData* t = find(hf_name);
  if (!t) throw LoadError(description_ + ": tensor '" + file_name_of(hf_name) + "' is missing (" + config_.str() + ")");
  if (t->type == SrcType::i32)
    throw LoadError(t->file + ": tensor '" + t->name + "' has dtype I32, expected a float tensor (F32, F16 or BF16)");
  // 1-D tensors may be stored as [n] or [1, n]; everything else must match exactly.
  std::vector<int64_t> got = t->shape;
  if (shape.size() == 1 && got.size() == 2 && got[0] == 1) got.erase(got.begin());
  if (got != shape) {
    TensorData want;
    want.shape = shape;
    throw LoadError(t->file + ": tensor '" + t->name + "' has shape " + t->shape_str() + " but the config (" +
                    config_.str() + ") needs " + want.shape_str());
  }
  return *t;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> Checkpoint::expected_tensors() const {
  const ModelConfig& c = config_;
  const int64_t H = c.hidden, D = c.head_dim, F = c.ffn;
  std::vector<std::pair<std::string, std::vector<int64_t>>> e = {{"model.embed_tokens.weight", {c.vocab, H}},
                                                                 {"model.norm.weight", {H}}};
  if (!c.tied_embeddings) e.push_back({"lm_head.weight", {c.vocab, H}});
  for (int64_t l = 0; l < c.layers; ++l) {
    auto n = [&](const char* s) { return layer_name(l, s); };
    e.push_back({n("input_layernorm.weight"), {H}});
    e.push_back({n("self_attn.q_proj.weight"), {c.heads * D, H}});
    e.push_back({n("self_attn.k_proj.weight"), {c.kv_heads * D, H}});
    e.push_back({n("self_attn.v_proj.weight"), {c.kv_heads * D, H}});
    e.push_back({n("self_attn.o_proj.weight"), {H, c.heads * D}});
    if (c.qkv_bias) {
      e.push_back({n("self_attn.q_proj.bias"), {c.heads * D}});
      e.push_back({n("self_attn.k_proj.bias"), {c.kv_heads * D}});
      e.push_back({n("self_attn.v_proj.bias"), {c.kv_heads * D}});
    }
    if (c.qk_norm) {
      e.push_back({n("self_attn.q_norm.weight"), {D}});
      e.push_back({n("self_attn.k_norm.weight"), {D}});
    }
    e.push_back({n("post_attention_layernorm.weight"), {H}});
    e.push_back({n("mlp.gate_proj.weight"), {F, H}});
    e.push_back({n("mlp.up_proj.weight"), {F, H}});
    e.push_back({n("mlp.down_proj.weight"), {H, F}});
  }
  return e;
}

bool Checkpoint::find_packed(const std::string& hf_weight_name, PackedLinear* out) const {
  const std::string suffix = ".weight";
  if (!packed_.defined() || hf_weight_name.size() <= suffix.size() ||
      hf_weight_name.compare(hf_weight_name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string base = hf_weight_name.substr(0, hf_weight_name.size() - suffix.size());
  const TensorData* qweight = find(base + ".qweight");
  if (!qweight) return false;  // not quantized (AWQ modules_to_not_convert, GPTQ's lm_head)
  out->name = base;
  out->qweight = qweight;
  out->qzeros = find(base + ".qzeros");
  out->scales = find(base + ".scales");
  out->g_idx = find(base + ".g_idx");
  return true;
}

void Checkpoint::check_tensors() const {
  for (const auto& kv : expected_tensors()) {
    PackedLinear p;
    if (kv.second.size() == 2 && find_packed(kv.first, &p)) check_packed(packed_, p, kv.second[0], kv.second[1], config_.str());
    else get(kv.first, kv.second);
  }
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw LoadError(path + ": no such file or directory");
  auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  std::unique_ptr<Checkpoint> ck;
  if (S_ISDIR(st.st_mode) || ends_with(".safetensors")) ck = open_safetensors(path);
  else if (ends_with(".gguf")) ck = open_gguf(path);
  if (ck) {
    ck->check_tensors();
    return ck;
  }
  throw LoadError(path + ": not a .gguf file, a .safetensors file or a model directory");
}

}  // namespace porta_run
