#include "tiny_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include "porta/dtype.h"

namespace porta_run_test {

const char* file_type_name(FileType t) {
  switch (t) {
    case FileType::f32: return "f32";
    case FileType::f16: return "f16";
    case FileType::bf16: return "bf16";
    case FileType::q8_0: return "q8_0";
    case FileType::q4_0: return "q4_0";
  }
  return "?";
}

std::vector<double> llama3_factors(int64_t D, double theta, double factor, double lo, double hi, double orig) {
  std::vector<double> f(static_cast<size_t>(D / 2));
  for (int64_t i = 0; i < D / 2; ++i) {
    const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(D));
    const double wl = 2 * M_PI / freq;
    double scaled = freq;
    if (wl > orig / lo) {
      scaled = freq / factor;
    } else if (wl >= orig / hi) {
      const double sm = (orig / wl - lo) / (hi - lo);
      scaled = (1 - sm) * freq / factor + sm * freq;
    }
    f[static_cast<size_t>(i)] = freq / scaled;
  }
  return f;
}

porta::ref::DecoderSpec TinyModel::ref_spec() const {
  porta::ref::DecoderSpec r;
  r.vocab = spec.vocab, r.hidden = spec.hidden, r.layers = spec.layers, r.heads = spec.heads;
  r.kv_heads = spec.kv_heads, r.head_dim = spec.head_dim, r.ffn = spec.ffn;
  r.rope_theta = spec.rope_theta, r.norm_eps = spec.norm_eps;
  r.qkv_bias = spec.arch == "qwen2", r.qk_norm = spec.arch == "qwen3", r.tied = spec.tied;
  if (spec.llama3_scaling) r.freq_factors = llama3_factors(spec.head_dim, spec.rope_theta, 8, 1, 4, 16);
  return r;
}

TinyModel make_tiny(const TinySpec& s, uint64_t seed) {
  TinyModel m;
  m.spec = s;
  std::mt19937_64 rng(seed);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double stddev, double mean = 0) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<double> dist(mean, stddev);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = static_cast<float>(dist(rng));
    m.shapes[name] = std::move(shape);
    m.weights[name] = std::move(v);
  };
  const int64_t H = s.hidden, D = s.head_dim, F = s.ffn;
  const double in_h = 1 / std::sqrt(static_cast<double>(H));
  add("model.embed_tokens.weight", {s.vocab, H}, 1.0);
  if (!s.tied) add("lm_head.weight", {s.vocab, H}, in_h * 2);
  add("model.norm.weight", {H}, 0.1, 1.0);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {H}, 0.1, 1.0);
    add(p + "self_attn.q_proj.weight", {s.heads * D, H}, in_h * 2);  // a little peaked attention
    add(p + "self_attn.k_proj.weight", {s.kv_heads * D, H}, in_h * 2);
    add(p + "self_attn.v_proj.weight", {s.kv_heads * D, H}, in_h);
    add(p + "self_attn.o_proj.weight", {H, s.heads * D}, 1 / std::sqrt(static_cast<double>(s.heads * D)));
    if (s.arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {s.heads * D}, 0.1);
      add(p + "self_attn.k_proj.bias", {s.kv_heads * D}, 0.1);
      add(p + "self_attn.v_proj.bias", {s.kv_heads * D}, 0.1);
    }
    if (s.arch == "qwen3") {
      add(p + "self_attn.q_norm.weight", {D}, 0.1, 1.0);
      add(p + "self_attn.k_norm.weight", {D}, 0.1, 1.0);
    }
    add(p + "post_attention_layernorm.weight", {H}, 0.1, 1.0);
    add(p + "mlp.gate_proj.weight", {F, H}, in_h);
    add(p + "mlp.up_proj.weight", {F, H}, in_h);
    add(p + "mlp.down_proj.weight", {H, F}, 1 / std::sqrt(static_cast<double>(F)));
  }
  return m;
}

namespace {

// ---- encoders (from the format definitions) ----

void put_f16(std::vector<uint8_t>& o, float v) {
  const uint16_t h = porta::float_to_f16(v);
  o.push_back(static_cast<uint8_t>(h & 0xff));
  o.push_back(static_cast<uint8_t>(h >> 8));
}

// Encodes row-major data of `cols` columns; returns the bytes and writes the decoded values to dec.
std::vector<uint8_t> encode(FileType t, const std::vector<float>& v, std::vector<double>& dec) {
  std::vector<uint8_t> o;
  dec.resize(v.size());
  switch (t) {
    case FileType::f32:
      o.resize(v.size() * 4);
      std::memcpy(o.data(), v.data(), o.size());
      for (size_t i = 0; i < v.size(); ++i) dec[i] = v[i];
      break;
    case FileType::f16:
    case FileType::bf16:
      for (size_t i = 0; i < v.size(); ++i) {
        const uint16_t h = t == FileType::f16 ? porta::float_to_f16(v[i]) : porta::float_to_bf16(v[i]);
        o.push_back(static_cast<uint8_t>(h & 0xff));
        o.push_back(static_cast<uint8_t>(h >> 8));
        dec[i] = t == FileType::f16 ? porta::f16_to_float(h) : porta::bf16_to_float(h);
      }
      break;
    case FileType::q8_0:  // per 32 values: f16 d = amax/127, int8 q = round(x/d)
      for (size_t b = 0; b < v.size(); b += 32) {
        float amax = 0;
        for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[b + i]));
        const float d = amax / 127.0f;
        put_f16(o, d);
        const double dd = porta::f16_to_float(porta::float_to_f16(d));
        for (size_t i = 0; i < 32; ++i) {
          const int q = d == 0 ? 0 : static_cast<int>(std::lround(v[b + i] / d));
          o.push_back(static_cast<uint8_t>(static_cast<int8_t>(q)));
          dec[b + i] = dd * q;
        }
      }
      break;
    case FileType::q4_0:  // per 32 values: d = (value of largest |x|) / -8, q = x/d + 8 in [0, 15]
      for (size_t b = 0; b < v.size(); b += 32) {
        float mx = 0;
        for (size_t i = 0; i < 32; ++i)
          if (std::fabs(v[b + i]) > std::fabs(mx)) mx = v[b + i];
        const float d = mx / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        put_f16(o, d);
        const double dd = porta::f16_to_float(porta::float_to_f16(d));
        uint8_t qs[32];
        for (size_t i = 0; i < 32; ++i) qs[i] = static_cast<uint8_t>(std::min(15, static_cast<int>(v[b + i] * id + 8.5f)));
        for (size_t i = 0; i < 16; ++i) o.push_back(static_cast<uint8_t>(qs[i] | (qs[i + 16] << 4)));
        for (size_t i = 0; i < 32; ++i) dec[b + i] = dd * (qs[i] - 8);
      }
      break;
  }
  return o;
}

bool is_vector(const std::vector<int64_t>& shape) { return shape.size() == 1; }

// llama.cpp's permute(): rows of each head reordered from [2, D/2] to [D/2, 2].
std::vector<float> permute_qk(const std::vector<float>& w, int64_t heads, int64_t rows, int64_t cols) {
  std::vector<float> o(w.size());
  const int64_t D = rows / heads;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t j = 0; j < D / 2; ++j) {
        const int64_t src = h * D + t * (D / 2) + j, dst = h * D + j * 2 + t;
        std::memcpy(&o[static_cast<size_t>(dst * cols)], &w[static_cast<size_t>(src * cols)], static_cast<size_t>(cols) * 4);
      }
  return o;
}

}  // namespace

porta::ref::WeightMap TinyModel::stored(FileType t, bool gguf) const {
  porta::ref::WeightMap out;
  for (const auto& kv : weights) {
    std::vector<double> dec;
    encode(gguf && is_vector(shapes.at(kv.first)) ? FileType::f32 : t, kv.second, dec);
    out[kv.first] = std::move(dec);
  }
  return out;
}

porta::ref::WeightMap quantized_int8_g32(const TinyModel& m) {
  porta::ref::WeightMap out = m.stored(FileType::f32, false);
  for (auto& kv : out) {
    if (m.shapes.at(kv.first).size() != 2) continue;
    std::vector<double>& v = kv.second;
    for (size_t b = 0; b < v.size(); b += 32) {
      double amax = 0;
      for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[b + i]));
      const double d = porta::f16_to_float(porta::float_to_f16(static_cast<float>(amax / 127)));
      for (size_t i = 0; i < 32; ++i)
        v[b + i] = d == 0 ? 0.0 : d * std::max(-127.0, std::min(127.0, std::nearbyint(v[b + i] / d)));
    }
  }
  return out;
}

// ---------------------------------------------------------------- safetensors ----

void write_safetensors_file(const std::string& path, const std::vector<StEntry>& entries) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::vector<uint8_t> data;
  for (const StEntry& e : entries) {
    std::string sh_txt;
    for (int64_t d : e.shape) sh_txt += (sh_txt.empty() ? "" : ",") + std::to_string(d);
    header += ",\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[" + sh_txt + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," + std::to_string(data.size() + e.data.size()) + "]}";
    data.insert(data.end(), e.data.begin(), e.data.end());
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::vector<uint8_t> encode_as(FileType t, const std::vector<float>& v) {
  std::vector<double> dec;
  return encode(t, v, dec);
}

void write_safetensors(const TinyModel& m, const std::string& dir, FileType t, int shards) {
  const char* dt = t == FileType::f32 ? "F32" : t == FileType::f16 ? "F16" : "BF16";
  std::vector<std::string> names;
  for (const auto& kv : m.weights) names.push_back(kv.first);
  std::string weight_map;
  for (int sh = 0; sh < shards; ++sh) {
    const std::string file = shards == 1 ? "model.safetensors"
                                          : "model-0000" + std::to_string(sh + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
    std::vector<StEntry> entries;
    for (size_t i = static_cast<size_t>(sh); i < names.size(); i += static_cast<size_t>(shards)) {
      entries.push_back({names[i], dt, m.shapes.at(names[i]), encode_as(t, m.weights.at(names[i]))});
      weight_map += std::string(weight_map.empty() ? "" : ",") + "\"" + names[i] + "\":\"" + file + "\"";
    }
    write_safetensors_file(dir + "/" + file, entries);
  }
  if (shards > 1) std::ofstream(dir + "/model.safetensors.index.json") << "{\"metadata\":{},\"weight_map\":{" << weight_map << "}}";
  write_config(m, dir, "");
}

void write_config(const TinyModel& m, const std::string& dir, const std::string& quantization_config) {
  const TinySpec& s = m.spec;
  std::ofstream c(dir + "/config.json");
  c << "{\"model_type\":\"" << s.arch << "\",\"architectures\":[\"X\"],\"hidden_size\":" << s.hidden
    << ",\"num_hidden_layers\":" << s.layers << ",\"num_attention_heads\":" << s.heads
    << ",\"num_key_value_heads\":" << s.kv_heads << ",\"intermediate_size\":" << s.ffn << ",\"vocab_size\":" << s.vocab
    << ",\"rms_norm_eps\":" << s.norm_eps << ",\"rope_theta\":" << s.rope_theta
    << ",\"tie_word_embeddings\":" << (s.tied ? "true" : "false") << ",\"max_position_embeddings\":256";
  if (s.arch == "qwen3") c << ",\"head_dim\":" << s.head_dim;
  if (s.llama3_scaling)
    c << ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
         "\"original_max_position_embeddings\":16}";
  if (!quantization_config.empty()) c << ",\"quantization_config\":" << quantization_config;
  c << ",\"bos_token_id\":1,\"eos_token_id\":2}";
  std::ofstream(dir + "/generation_config.json") << "{\"eos_token_id\":[2,3]}";
}

// ---------------------------------------------------------------- GGUF ----

namespace {

class Bytes {
 public:
  std::vector<uint8_t> b;
  template <typename T>
  void put(T v) {
    const size_t at = b.size();
    b.resize(at + sizeof(T));
    std::memcpy(b.data() + at, &v, sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  // Metadata: key, then value type (4 = u32, 6 = f32, 8 = string, 9 = array).
  void kv_u32(const std::string& k, uint32_t v) { str(k); put<uint32_t>(4); put<uint32_t>(v); }
  void kv_f32(const std::string& k, float v) { str(k); put<uint32_t>(6); put<float>(v); }
  void kv_str(const std::string& k, const std::string& v) { str(k); put<uint32_t>(8); str(v); }
  void kv_bool(const std::string& k, bool v) { str(k); put<uint32_t>(7); put<uint8_t>(v ? 1 : 0); }
  void kv_i32s(const std::string& k, const std::vector<int32_t>& v) {
    str(k);
    put<uint32_t>(9);
    put<uint32_t>(5);
    put<uint64_t>(v.size());
    for (int32_t x : v) put<int32_t>(x);
  }
  void kv_strings(const std::string& k, const std::vector<std::string>& v) {
    str(k);
    put<uint32_t>(9);
    put<uint32_t>(8);
    put<uint64_t>(v.size());
    for (const auto& s : v) str(s);
  }
};

uint32_t ggml_type(FileType t) {
  switch (t) {
    case FileType::f32: return 0;
    case FileType::f16: return 1;
    case FileType::q4_0: return 2;
    case FileType::q8_0: return 8;
    case FileType::bf16: return 30;
  }
  return 0;
}

std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> per_layer = {
      {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"}, {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},       {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},        {"mlp.down_proj.weight", "ffn_down.weight"}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const size_t dot = hf.find('.', 13);  // after "model.layers."
  return "blk." + hf.substr(13, dot - 13) + "." + per_layer.at(hf.substr(dot + 1));
}

}  // namespace

void write_gguf(const TinyModel& m, const std::string& path, FileType t, const GgufTokenizer* tok) {
  const TinySpec& s = m.spec;
  struct Entry { std::string name; std::vector<int64_t> shape; uint32_t type; std::vector<uint8_t> data; };
  std::vector<Entry> entries;
  for (const auto& kv : m.weights) {
    const auto& shape = m.shapes.at(kv.first);
    const FileType ft = is_vector(shape) ? FileType::f32 : t;
    std::vector<float> w = kv.second;
    const bool q = kv.first.find("q_proj.weight") != std::string::npos, k = kv.first.find("k_proj.weight") != std::string::npos;
    if (s.arch == "llama" && (q || k)) w = permute_qk(w, q ? s.heads : s.kv_heads, shape[0], shape[1]);
    std::vector<double> dec;
    entries.push_back({gguf_name(kv.first), shape, ggml_type(ft), encode(ft, w, dec)});
  }
  if (s.llama3_scaling) {
    const std::vector<double> f = llama3_factors(s.head_dim, s.rope_theta, 8, 1, 4, 16);
    std::vector<float> ff(f.begin(), f.end());
    std::vector<double> dec;
    entries.push_back({"rope_freqs.weight", {s.head_dim / 2}, 0, encode(FileType::f32, ff, dec)});
  }
  Bytes h;
  h.put<uint32_t>(0x46554747u);  // "GGUF"
  h.put<uint32_t>(3);
  h.put<uint64_t>(entries.size());
  const std::string a = s.arch + ".";
  std::vector<std::string> tokens;
  for (int64_t i = 0; i < s.vocab; ++i) tokens.push_back(i < 26 ? std::string(1, static_cast<char>('a' + i)) : "\xc4\xa0t" + std::to_string(i));
  if (tok) tokens = tok->tokens;
  const int n_kv = 15 + (s.arch == "qwen3" ? 1 : 0) + (tok ? 4 : 0);
  h.put<uint64_t>(static_cast<uint64_t>(n_kv));
  h.kv_str("general.architecture", s.arch);
  h.kv_u32("general.alignment", 32);
  h.kv_u32(a + "block_count", static_cast<uint32_t>(s.layers));
  h.kv_u32(a + "embedding_length", static_cast<uint32_t>(s.hidden));
  h.kv_u32(a + "feed_forward_length", static_cast<uint32_t>(s.ffn));
  h.kv_u32(a + "attention.head_count", static_cast<uint32_t>(s.heads));
  h.kv_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
  h.kv_u32(a + "context_length", 256);
  h.kv_f32(a + "rope.freq_base", static_cast<float>(s.rope_theta));
  h.kv_f32(a + "attention.layer_norm_rms_epsilon", static_cast<float>(s.norm_eps));
  h.kv_str("tokenizer.ggml.model", "gpt2");
  h.kv_strings("tokenizer.ggml.tokens", tokens);
  h.kv_u32("tokenizer.ggml.bos_token_id", 1);
  h.kv_u32("tokenizer.ggml.eos_token_id", 2);
  h.kv_u32("tokenizer.ggml.eot_token_id", 3);
  if (s.arch == "qwen3") h.kv_u32(a + "attention.key_length", static_cast<uint32_t>(s.head_dim));
  if (tok) {
    h.kv_strings("tokenizer.ggml.merges", tok->merges);
    h.kv_i32s("tokenizer.ggml.token_type", tok->types);
    h.kv_str("tokenizer.ggml.pre", tok->pre);
    h.kv_bool("tokenizer.ggml.add_bos_token", tok->add_bos);
  }
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    h.str(e.name);
    h.put<uint32_t>(static_cast<uint32_t>(e.shape.size()));
    for (auto it = e.shape.rbegin(); it != e.shape.rend(); ++it) h.put<uint64_t>(static_cast<uint64_t>(*it));  // innermost first
    h.put<uint32_t>(e.type);
    h.put<uint64_t>(offset);
    offset += (e.data.size() + 31) / 32 * 32;
  }
  while (h.b.size() % 32) h.b.push_back(0);
  for (const Entry& e : entries) {
    h.b.insert(h.b.end(), e.data.begin(), e.data.end());
    while (h.b.size() % 32) h.b.push_back(0);
  }
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(h.b.data()), static_cast<std::streamsize>(h.b.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace porta_run_test
