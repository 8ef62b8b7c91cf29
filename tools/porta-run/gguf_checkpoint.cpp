// A GGUF file as a Checkpoint: llama.cpp's tensor names and metadata keys mapped to the
// Hugging Face ones porta-run's model uses.
#include <map>

#include "checkpoint.h"
#include "gguf.h"
#include "load_error.h"

namespace porta_run {
namespace {

// Hugging Face per-layer suffix -> GGUF per-layer name.
const std::map<std::string, std::string>& layer_names() {
  static const std::map<std::string, std::string> m = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  return m;
}

std::string gguf_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (hf.compare(0, prefix.size(), prefix) == 0) {
    const size_t dot = hf.find('.', prefix.size());
    if (dot != std::string::npos) {
      auto it = layer_names().find(hf.substr(dot + 1));
      if (it != layer_names().end()) return "blk." + hf.substr(prefix.size(), dot - prefix.size()) + "." + it->second;
    }
  }
  return hf;
}

class GgufCheckpoint : public Checkpoint {
 public:
  explicit GgufCheckpoint(const std::string& path) : f_(path) {
    description_ = "GGUF v" + std::to_string(f_.version()) + " " + path;
    const std::string arch = f_.get_string("general.architecture", "");
    ModelConfig& c = config_;
    if (arch == "llama") c.arch = Arch::llama;
    else if (arch == "qwen2") c.arch = Arch::qwen2;
    else if (arch == "qwen3") c.arch = Arch::qwen3;
    else
      throw LoadError(path + ": general.architecture '" + arch +
                      "' is not supported (porta-run runs llama, qwen2 and qwen3)");
    const std::string a = arch + ".";
    c.layers = f_.get_int(a + "block_count");
    c.hidden = f_.get_int(a + "embedding_length");
    c.ffn = f_.get_int(a + "feed_forward_length");
    c.heads = f_.get_int(a + "attention.head_count");
    c.kv_heads = f_.get_int(a + "attention.head_count_kv", c.heads);
    c.head_dim = f_.get_int(a + "attention.key_length", c.heads > 0 ? c.hidden / c.heads : 0);
    c.max_context = f_.get_int(a + "context_length", 4096);
    c.rope_theta = f_.get_float(a + "rope.freq_base", 10000.0);
    c.norm_eps = f_.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5);
    c.qk_norm = c.arch == Arch::qwen3;
    // llama.cpp's converter permutes Llama's q/k rows for adjacent-pair RoPE; Qwen keeps rotate-half.
    c.rope_style = c.arch == Arch::llama ? porta::ops::RopeStyle::gptj : porta::ops::RopeStyle::neox;
    const TensorData* emb = f_.tensor("token_embd.weight");
    if (!emb || emb->shape.size() != 2) throw LoadError(path + ": tensor 'token_embd.weight' is missing or not 2-D");
    c.vocab = emb->shape[0];
    c.tied_embeddings = f_.tensor("output.weight") == nullptr;
    c.qkv_bias = f_.tensor("blk.0.attn_q.bias") != nullptr;
    if (const TensorData* rf = f_.tensor("rope_freqs.weight")) {  // Llama 3.1 scaling, as factors
      if (rf->type != SrcType::f32 || rf->numel() != c.head_dim / 2)
        throw LoadError(path + ": tensor 'rope_freqs.weight' must be f32 [" + std::to_string(c.head_dim / 2) + "]");
      c.rope_freq_factors.resize(static_cast<size_t>(rf->numel()));
      to_float(*rf, 0, 1, c.rope_freq_factors.data());
      c.rope_scaling = "rope_freqs.weight";
    }
    for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
      if (f_.find(k)) {
        const auto id = static_cast<int32_t>(f_.get_int(k));
        bool seen = false;
        for (int32_t e : c.eos_ids) seen = seen || e == id;
        if (!seen) c.eos_ids.push_back(id);
      }
    c.bos_id = static_cast<int32_t>(f_.get_int("tokenizer.ggml.bos_token_id", -1));
    c.check(path);
    if (const GgufValue* toks = f_.find("tokenizer.ggml.tokens")) {
      const std::string model = f_.get_string("tokenizer.ggml.model", "");
      std::vector<std::string> t(toks->strings.begin(), toks->strings.end());
      vocab_ = Vocab(model == "gpt2" ? Vocab::Kind::byte_level : model == "llama" ? Vocab::Kind::sentencepiece : Vocab::Kind::none,
                     std::vector<std::string>(t));
      read_encoder(path, model, t);
    }
  }

  const TensorData* find(const std::string& hf_name) const override { return f_.tensor(gguf_name(hf_name)); }

  // Byte-level BPE encoding: tokenizer.ggml.merges and a pre-tokenizer porta-run knows. A
  // file without them still loads (ids in, text out); --text then says why it cannot encode.
  void read_encoder(const std::string& path, const std::string& model, const std::vector<std::string>& tokens) {
    const GgufValue* merges = f_.find("tokenizer.ggml.merges");
    const std::string pre = f_.get_string("tokenizer.ggml.pre", "default");
    if (model != "gpt2" || !merges) {
      encoder_note_ = path + ": text encoding needs a byte-level BPE vocabulary with merges (tokenizer.ggml.model "
                      "gpt2, tokenizer.ggml.merges); this file has model '" + model + "'" +
                      (merges ? "" : " and no merges") + ": pass token ids with --prompt";
      return;
    }
    if (!BpeEncoder::known_pre(pre)) {
      encoder_note_ = path + ": tokenizer.ggml.pre '" + pre +
                      "' is a pre-tokenizer porta-run does not implement (llama-bpe, qwen2): pass token ids with --prompt";
      return;
    }
    std::vector<int> types;
    if (const GgufValue* tt = f_.find("tokenizer.ggml.token_type"))
      for (double v : tt->numbers) types.push_back(static_cast<int>(v));
    encoder_ = std::make_shared<BpeEncoder>(tokens, std::vector<std::string>(merges->strings.begin(), merges->strings.end()),
                                            types, pre, path);
    add_bos_ = f_.get_int("tokenizer.ggml.add_bos_token", 0) != 0;
  }
  std::string file_name_of(const std::string& hf_name) const override { return gguf_name(hf_name); }

 private:
  GgufFile f_;
};

}  // namespace

std::unique_ptr<Checkpoint> open_gguf(const std::string& path) { return std::make_unique<GgufCheckpoint>(path); }

}  // namespace porta_run
