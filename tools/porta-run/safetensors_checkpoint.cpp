// A Hugging Face model directory (config.json, safetensors shards, tokenizer.json) as a Checkpoint.
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint.h"
#include "load_error.h"
#include "safetensors.h"

namespace porta_run {
namespace {

using json = nlohmann::json;

json read_json(const std::string& path, bool required) {
  std::ifstream in(path);
  if (!in) {
    if (required) throw LoadError(path + ": missing (a Hugging Face model directory needs config.json)");
    return json();
  }
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw LoadError(path + ": not valid JSON (" + e.what() + ")");
  }
}

class SafetensorsCheckpoint : public Checkpoint {
 public:
  explicit SafetensorsCheckpoint(const std::string& path) : st_(path) {
    const std::string cfg_path = st_.dir() + "/config.json";
    const json cfg = read_json(cfg_path, true);
    description_ = "safetensors " + path;
    try {
      parse_config(cfg, cfg_path);
    } catch (const json::exception& e) {
      throw LoadError(cfg_path + ": a key has the wrong type (" + e.what() + ")");
    }
    read_quantization(cfg, cfg_path);
    if (packed_.defined()) description_ += " (" + packed_.str() + ")";
    const json gen = read_json(st_.dir() + "/generation_config.json", false);
    if (gen.is_object() && gen.contains("eos_token_id")) add_eos(gen["eos_token_id"]);
    read_vocab(st_.dir() + "/tokenizer.json");
  }

  const TensorData* find(const std::string& hf_name) const override { return st_.tensor(hf_name); }

 private:
  void add_eos(const json& v) {
    auto add = [&](const json& x) {
      if (!x.is_number_integer()) return;
      const auto id = x.get<int32_t>();
      for (int32_t e : config_.eos_ids)
        if (e == id) return;
      config_.eos_ids.push_back(id);
    };
    if (v.is_array())
      for (const json& x : v) add(x);
    else
      add(v);
  }

  void parse_config(const json& cfg, const std::string& cfg_path) {
    if (!cfg.is_object()) throw LoadError(cfg_path + ": not a JSON object");
    ModelConfig& c = config_;
    const std::string type = cfg.value("model_type", std::string());
    if (type == "llama") c.arch = Arch::llama;
    else if (type == "qwen2") c.arch = Arch::qwen2;
    else if (type == "qwen3") c.arch = Arch::qwen3;
    else
      throw LoadError(cfg_path + ": model_type '" + type + "' is not supported (porta-run runs llama, qwen2 and qwen3)");
    auto need = [&](const char* k) {
      if (!cfg.contains(k) || !cfg[k].is_number_integer()) throw LoadError(cfg_path + ": integer key '" + k + "' is missing");
      return cfg[k].get<int64_t>();
    };
    c.hidden = need("hidden_size");
    c.layers = need("num_hidden_layers");
    c.heads = need("num_attention_heads");
    c.ffn = need("intermediate_size");
    c.vocab = need("vocab_size");
    c.kv_heads = cfg.value("num_key_value_heads", c.heads);
    c.head_dim = cfg.contains("head_dim") && cfg["head_dim"].is_number_integer() ? cfg["head_dim"].get<int64_t>()
                 : c.heads > 0 ? c.hidden / c.heads : 0;
    c.max_context = cfg.value("max_position_embeddings", int64_t{4096});
    c.rope_theta = cfg.value("rope_theta", 10000.0);
    c.norm_eps = cfg.value("rms_norm_eps", 1e-6);
    c.tied_embeddings = cfg.value("tie_word_embeddings", false);
    c.qkv_bias = c.arch == Arch::qwen2 || cfg.value("attention_bias", false);
    c.qk_norm = c.arch == Arch::qwen3;
    c.rope_style = porta::ops::RopeStyle::neox;
    if (cfg.contains("rope_scaling") && cfg["rope_scaling"].is_object()) {
      const json& rs = cfg["rope_scaling"];
      const std::string rt = rs.value("rope_type", rs.value("type", std::string()));
      if (rt != "llama3")
        throw LoadError(cfg_path + ": rope_scaling type '" + rt + "' is not supported (porta-run knows llama3)");
      c.rope_scaling = "llama3";
      c.rope_freq_factors = llama3_freq_factors(c.head_dim, c.rope_theta, rs.value("factor", 8.0),
                                                rs.value("low_freq_factor", 1.0), rs.value("high_freq_factor", 4.0),
                                                rs.value("original_max_position_embeddings", 8192.0));
    }
    if (cfg.contains("eos_token_id")) add_eos(cfg["eos_token_id"]);
    if (cfg.contains("bos_token_id") && cfg["bos_token_id"].is_number_integer()) c.bos_id = cfg["bos_token_id"].get<int32_t>();
    c.check(cfg_path);
    if (!c.tied_embeddings && !st_.tensor("lm_head.weight") && st_.tensor("model.embed_tokens.weight"))
      c.tied_embeddings = true;  // some exports omit the flag and the head
  }

  // GPTQ / AWQ: config.json's quantization_config, else AutoGPTQ's quantize_config.json.
  void read_quantization(const json& cfg, const std::string& cfg_path) {
    if (cfg.contains("quantization_config") && !cfg["quantization_config"].is_null()) {
      packed_ = parse_packed_format(cfg["quantization_config"], cfg_path, false);
      return;
    }
    const std::string qc_path = st_.dir() + "/quantize_config.json";
    const json qc = read_json(qc_path, false);
    if (!qc.is_null()) packed_ = parse_packed_format(qc, qc_path, true);
  }

  void read_vocab(const std::string& path) {
    const json tok = read_json(path, false);
    if (!tok.is_object() || !tok.contains("model") || !tok["model"].contains("vocab")) return;
    const json& v = tok["model"]["vocab"];
    std::vector<std::string> tokens;
    auto put = [&](int64_t id, const std::string& s) {
      if (id < 0 || id > (int64_t{1} << 24)) return;
      if (static_cast<size_t>(id) >= tokens.size()) tokens.resize(static_cast<size_t>(id) + 1);
      tokens[static_cast<size_t>(id)] = s;
    };
    if (v.is_object())
      for (auto it = v.begin(); it != v.end(); ++it)
        if (it.value().is_number_integer()) put(it.value().get<int64_t>(), it.key());
    if (tok.contains("added_tokens") && tok["added_tokens"].is_array())
      for (const json& a : tok["added_tokens"])
        if (a.is_object() && a.contains("id") && a.contains("content") && a["id"].is_number_integer() && a["content"].is_string())
          put(a["id"].get<int64_t>(), a["content"].get<std::string>());
    const bool byte_level = tok.contains("decoder") && tok["decoder"].is_object() &&
                            tok["decoder"].value("type", std::string()) == "ByteLevel";
    vocab_ = Vocab(byte_level ? Vocab::Kind::byte_level : Vocab::Kind::sentencepiece, std::move(tokens));
  }

  SafetensorsModel st_;
};

}  // namespace

std::unique_ptr<Checkpoint> open_safetensors(const std::string& path) {
  return std::make_unique<SafetensorsCheckpoint>(path);
}

}  // namespace porta_run
