// Tiny random-weight checkpoints the model tests write themselves: a Llama / Qwen2 / Qwen3
// decoder (2 layers, hidden 256, vocab 512) as a Hugging Face safetensors directory or as a
// GGUF file assembled byte by byte from the format's specification (not by porta-run's code),
// with the converter's q/k row permutation for Llama. Block formats (Q8_0, Q4_0) are encoded
// here too, and the weights the file really holds after that rounding are kept for the reference.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reference/reference_model.h"

namespace porta_run_test {

struct TinySpec {
  std::string arch = "llama";  // llama, qwen2, qwen3
  int64_t vocab = 512, hidden = 256, layers = 2, heads = 4, kv_heads = 2, head_dim = 64, ffn = 512;
  double rope_theta = 10000, norm_eps = 1e-5;
  bool tied = false;
  bool llama3_scaling = false;  // rope_scaling llama3 (factor 8, original context 16: it bites at short range)
};

/// File element formats the fixture writes.
enum class FileType { f32, f16, bf16, q8_0, q4_0 };
const char* file_type_name(FileType t);

struct TinyModel {
  TinySpec spec;
  std::map<std::string, std::vector<int64_t>> shapes;  // Hugging Face names and shapes
  std::map<std::string, std::vector<float>> weights;   // f32 originals
  porta::ref::DecoderSpec ref_spec() const;
  /// The weights as `t` stores them (rounded / block-quantized and decoded again) as doubles.
  /// GGUF keeps 1-D tensors (norms, biases) in f32; safetensors stores them in t too.
  porta::ref::WeightMap stored(FileType t, bool gguf) const;
};

TinyModel make_tiny(const TinySpec& s, uint64_t seed);

/// 2-D weights of `w` (f32 originals) quantized by porta's documented int8 rule (porta/quant.h:
/// group 32, d = f16(absmax / 127), code = clamp(round(w / d), -127, 127)) and decoded.
porta::ref::WeightMap quantized_int8_g32(const TinyModel& m);

/// One tensor of a safetensors file: dtype name ("F16", "I32"), shape and raw bytes.
struct StEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};
/// A safetensors file (8-byte header length, JSON header, data) holding `entries` in order.
void write_safetensors_file(const std::string& path, const std::vector<StEntry>& entries);
/// Row-major values encoded as `t` (f32, f16, bf16) bytes.
std::vector<uint8_t> encode_as(FileType t, const std::vector<float>& v);
/// config.json and generation_config.json (two EOS ids) for m; `quantization_config`, when
/// not empty, is written as that key's JSON value.
void write_config(const TinyModel& m, const std::string& dir, const std::string& quantization_config);

/// config.json (+ generation_config.json with two EOS ids) and model.safetensors, or
/// `shards` files with model.safetensors.index.json. t: f32, f16 or bf16.
void write_safetensors(const TinyModel& m, const std::string& dir, FileType t, int shards = 1);
/// A byte-level BPE tokenizer for write_gguf (tokenizer.ggml.tokens / merges / token_type /
/// pre / add_bos_token); tokens.size() must equal the model's vocab.
struct GgufTokenizer {
  std::vector<std::string> tokens, merges;
  std::vector<int32_t> types;
  std::string pre;
  bool add_bos = false;
};

/// A GGUF v3 file; 2-D weights in `t`, 1-D ones in f32. For llama, q/k rows permuted as
/// llama.cpp's converter does; rope_freqs.weight written when llama3 scaling is on. `tok`:
/// the tokenizer to write instead of the default token list (no merges).
void write_gguf(const TinyModel& m, const std::string& path, FileType t, const GgufTokenizer* tok = nullptr);

/// Llama 3 frequency divisors (the test's own copy of the formula, for the reference).
std::vector<double> llama3_factors(int64_t head_dim, double theta, double factor, double lo, double hi, double orig);

}  // namespace porta_run_test
