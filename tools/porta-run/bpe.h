// Text to token ids for GGUF byte-level BPE vocabularies (tokenizer.ggml.model "gpt2"):
// special tokens (token types control and user-defined) matched verbatim first, then the
// pre-tokenizer regex tokenizer.ggml.pre names (Llama 3's "llama-bpe", Qwen2's "qwen2";
// others refused by name), each piece's UTF-8 bytes drawn as GPT-2 byte code points and
// merged by tokenizer.ggml.merges, the lowest rank first, then looked up in the vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace porta_run {

class BpeEncoder {
 public:
  /// GGUF token types (llama.cpp): 3 control, 4 user-defined are matched in the text.
  static constexpr int kControl = 3, kUserDefined = 4;
  /// Throws LoadError naming `source` for an unknown pre-tokenizer or a malformed merge.
  BpeEncoder(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
             const std::vector<int>& token_types, const std::string& pre, const std::string& source);

  /// Token ids of `text` (no BOS; the caller adds it). Throws LoadError when a piece's
  /// symbol is missing from the vocabulary.
  std::vector<int32_t> encode(const std::string& text) const;
  /// The pre-tokenizer's pieces of `text` (no special tokens), for tests.
  std::vector<std::string> pre_tokenize(const std::string& text) const;
  /// The merged symbols of one piece (GPT-2 byte code points, UTF-8), for tests.
  std::vector<std::string> merge(const std::string& piece) const;
  const std::string& pre() const { return pre_; }

  /// The pre-tokenizer names encode() knows.
  static bool known_pre(const std::string& pre);

 private:
  struct Regex;  // the compiled ICU pattern
  std::shared_ptr<const Regex> regex_;
  std::string pre_, source_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> merge rank
  std::vector<std::string> specials_;           // longest first
};

}  // namespace porta_run
