// A model on disk (or made up, for benchmarks): its config, vocabulary and tensors, looked
// up by their Hugging Face names ("model.layers.0.self_attn.q_proj.weight") whatever the
// file format calls them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bpe.h"
#include "model_config.h"
#include "packed_int4.h"
#include "tensor_data.h"
#include "vocab.h"

namespace porta_run {

class Checkpoint {
 public:
  virtual ~Checkpoint() = default;
  /// Opens a .gguf file, a .safetensors file or a Hugging Face model directory (config.json
  /// plus safetensors shards). Throws LoadError naming the file and what is wrong.
  static std::unique_ptr<Checkpoint> open(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const Vocab& vocab() const { return vocab_; }
  /// Text to ids (GGUF byte-level BPE with a known pre-tokenizer); null otherwise, and then
  /// encoder_note() says why.
  const BpeEncoder* encoder() const { return encoder_.get(); }
  const std::string& encoder_note() const { return encoder_note_; }
  /// Whether encoded text starts with the BOS id (tokenizer.ggml.add_bos_token).
  bool add_bos() const { return add_bos_; }
  /// "GGUF v3 (path)", "safetensors, 4 shards (dir)", "synthetic llama3-8b".
  const std::string& description() const { return description_; }
  /// The tensor under its Hugging Face name, or null when the file has none.
  virtual const TensorData* find(const std::string& hf_name) const = 0;
  /// The tensor, checked to have `shape`; throws LoadError naming file, tensor (as the file
  /// names it), the shape found and the shape the config implies.
  const TensorData& get(const std::string& hf_name, const std::vector<int64_t>& shape) const;
  /// Every tensor the config implies, with its shape (Hugging Face names).
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors() const;
  /// Checks that every expected tensor is present with its shape (open() does this, so a bad
  /// file fails before any device memory is used). Throws LoadError.
  void check_tensors() const;
  /// How the file names a tensor (for messages).
  virtual std::string file_name_of(const std::string& hf_name) const { return hf_name; }
  /// GPTQ / AWQ int4 checkpoints: the format config.json declares (method none otherwise).
  const PackedFormat& packed_format() const { return packed_; }
  /// For a projection's Hugging Face ".weight" name: whether the file holds it as packed
  /// GPTQ/AWQ tensors instead (its ".qweight" is present); fills `out` (not yet checked).
  bool find_packed(const std::string& hf_weight_name, PackedLinear* out) const;

 protected:
  ModelConfig config_;
  PackedFormat packed_;
  std::shared_ptr<const BpeEncoder> encoder_;
  std::string encoder_note_ = "the checkpoint has no byte-level BPE tokenizer porta-run encodes";
  bool add_bos_ = false;
  Vocab vocab_;
  std::string description_;
};

std::unique_ptr<Checkpoint> open_gguf(const std::string& path);
std::unique_ptr<Checkpoint> open_safetensors(const std::string& path);

/// Hugging Face name of a per-layer tensor: layer_name(3, "self_attn.q_proj.weight").
std::string layer_name(int64_t layer, const std::string& suffix);

}  // namespace porta_run
