#include "bpe.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "load_error.h"
#include "vocab.h"

namespace porta_run {
namespace {

// The pre-tokenizer regexes of the models' tokenizer.json files (Hugging Face), which GGUF
// names by tokenizer.ggml.pre. They run on ICU's engine (Unicode \p{L}/\p{N}/\s, inline
// flags, look-ahead), so they are used as published.
struct PreTokenizer {
  const char* name;
  const char* regex;
};
constexpr PreTokenizer kPre[] = {
    // Llama 3: digits in runs of at most three
    {"llama-bpe",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    // Qwen2 / Qwen2.5 / Qwen3: one digit per piece
    {"qwen2",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
};

// GPT-2's byte -> code point table: printable Latin-1 bytes stand for themselves, the other
// 68 bytes are drawn as code points 256.. in byte order.
const std::vector<std::string>& byte_symbols() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      append_utf8(t[static_cast<size_t>(b)], printable ? static_cast<uint32_t>(b) : next++);
    }
    return t;
  }();
  return table;
}

}  // namespace

struct BpeEncoder::Regex {
  std::unique_ptr<icu::RegexPattern> pattern;
};

bool BpeEncoder::known_pre(const std::string& pre) {
  return std::any_of(std::begin(kPre), std::end(kPre), [&](const PreTokenizer& p) { return pre == p.name; });
}

BpeEncoder::BpeEncoder(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                       const std::vector<int>& token_types, const std::string& pre, const std::string& source)
    : pre_(pre), source_(source) {
  const char* regex = nullptr;
  for (const PreTokenizer& p : kPre)
    if (pre == p.name) regex = p.regex;
  if (!regex)
    throw LoadError(
        source + ": tokenizer.ggml.pre '" + pre +
        "' is a pre-tokenizer porta-run does not implement (llama-bpe, qwen2): pass token ids with --prompt");
  UErrorCode err = U_ZERO_ERROR;
  auto re = std::make_shared<Regex>();
  re->pattern.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(regex), 0, err));
  if (U_FAILURE(err))
    throw LoadError(source + ": the " + pre + " pre-tokenizer regex failed to compile (ICU)");
  regex_ = re;
  for (size_t i = 0; i < tokens.size(); ++i)
    ids_.emplace(tokens[i], static_cast<int32_t>(i));  // first id wins
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size() || m.find(' ', sp + 1) != std::string::npos)
      throw LoadError(source + ": tokenizer.ggml.merges entry " + std::to_string(r) + " '" + m +
                      "' is not two symbols separated by one space");
    ranks_.emplace(m, static_cast<int>(r));  // a repeated merge keeps its first (best) rank
  }
  for (size_t i = 0; i < token_types.size() && i < tokens.size(); ++i)
    if ((token_types[i] == kControl || token_types[i] == kUserDefined) && !tokens[i].empty())
      specials_.push_back(tokens[i]);
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::vector<std::string> BpeEncoder::pre_tokenize(const std::string& text) const {
  UErrorCode err = U_ZERO_ERROR;
  // Invalid UTF-8 becomes U+FFFD here; encode() has already replaced it the same way.
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(text);
  std::unique_ptr<icu::RegexMatcher> m(regex_->pattern->matcher(u, err));
  if (U_FAILURE(err)) throw LoadError(source_ + ": cannot run the " + pre_ + " pre-tokenizer (ICU)");
  std::vector<std::string> out;
  int32_t at = 0;
  while (m->find(err) && U_SUCCESS(err)) {
    const int32_t b = m->start(err), e = m->end(err);
    // Every character matches one of the alternatives (the last is \s+ after [^\s...]): a
    // gap would be a bug in the regex table, so it is kept as its own piece, never dropped.
    if (b > at) {
      std::string gap;
      u.tempSubStringBetween(at, b).toUTF8String(gap);
      out.push_back(gap);
    }
    std::string piece;
    u.tempSubStringBetween(b, e).toUTF8String(piece);
    if (!piece.empty()) out.push_back(piece);
    at = e;
  }
  if (at < u.length()) {
    std::string tail;
    u.tempSubStringBetween(at).toUTF8String(tail);
    out.push_back(tail);
  }
  return out;
}

std::vector<std::string> BpeEncoder::merge(const std::string& piece) const {
  std::vector<std::string> sym;
  for (unsigned char c : piece) sym.push_back(byte_symbols()[c]);
  // Repeatedly merge every occurrence (left to right) of the adjacent pair of lowest rank.
  for (;;) {
    int best = INT_MAX;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = ranks_.find(sym[i] + " " + sym[i + 1]);
      if (it != ranks_.end()) best = std::min(best, it->second);
    }
    if (best == INT_MAX) return sym;
    std::vector<std::string> next;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size()) {
        auto it = ranks_.find(sym[i] + " " + sym[i + 1]);
        if (it != ranks_.end() && it->second == best) {
          next.push_back(sym[i] + sym[i + 1]);
          ++i;
          continue;
        }
      }
      next.push_back(sym[i]);
    }
    sym.swap(next);
  }
}

std::vector<int32_t> BpeEncoder::encode(const std::string& raw) const {
  // Invalid UTF-8 is replaced by U+FFFD (as the reference tokenizers' string decoding does),
  // so the bytes the pieces carry are the text's after that replacement.
  std::string text;
  icu::UnicodeString::fromUTF8(raw).toUTF8String(text);
  std::vector<int32_t> ids;
  auto encode_plain = [&](const std::string& s) {
    for (const std::string& piece : pre_tokenize(s))
      for (const std::string& sym : merge(piece)) {
        auto it = ids_.find(sym);
        if (it == ids_.end())
          throw LoadError(source_ + ": the byte-level symbol '" + sym + "' (of the text piece '" + piece +
                          "') is not in the vocabulary: the file's tokens and merges disagree");
        ids.push_back(it->second);
      }
  };
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const std::string* hit = nullptr;
    for (const std::string& sp : specials_)
      if (text.compare(i, sp.size(), sp) == 0) {
        hit = &sp;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > start) encode_plain(text.substr(start, i - start));
    ids.push_back(ids_.at(*hit));
    i += hit->size();
    start = i;
  }
  if (start < text.size()) encode_plain(text.substr(start));
  return ids;
}

}  // namespace porta_run
