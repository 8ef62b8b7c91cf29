// Token ids to text, from the checkpoint's own vocabulary: GPT-2 byte-level BPE tokens
// (each byte drawn as a printable code point) or SentencePiece pieces ("▁" for a space,
// "<0xNN>" for raw bytes). porta-run takes token ids as input; it only detokenizes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace porta_run {

class Vocab {
 public:
  enum class Kind { none, byte_level, sentencepiece };
  Vocab() = default;
  Vocab(Kind kind, std::vector<std::string> tokens) : kind_(kind), tokens_(std::move(tokens)) {}

  bool empty() const { return tokens_.empty(); }
  size_t size() const { return tokens_.size(); }
  Kind kind() const { return kind_; }
  /// The bytes token `id` stands for; "<id>" when the vocabulary is absent or too short.
  std::string decode(int32_t id) const;

 private:
  Kind kind_ = Kind::none;
  std::vector<std::string> tokens_;
};

/// Appends code point cp to s as UTF-8 (used by the byte-level table and tests).
void append_utf8(std::string& s, uint32_t cp);

}  // namespace porta_run
