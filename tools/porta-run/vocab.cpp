#include "vocab.h"

#include <array>

namespace porta_run {
namespace {

// GPT-2's byte-to-code-point table inverted: printable Latin-1 bytes stand for themselves,
// the other 68 bytes are drawn as code points 256.. in byte order.
const std::array<int, 512>& code_point_to_byte() {
  static const std::array<int, 512> table = [] {
    std::array<int, 512> t{};
    t.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[static_cast<size_t>(printable ? b : next++)] = b;
    }
    return t;
  }();
  return table;
}

// Next code point of UTF-8 text at s[i] (advances i); -1 on a malformed sequence.
int64_t next_code_point(const std::string& s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return -1;
  }
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3f);
  i += static_cast<size_t>(len);
  return cp;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string Vocab::decode(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return "<" + std::to_string(id) + ">";
  const std::string& t = tokens_[static_cast<size_t>(id)];
  std::string out;
  if (kind_ == Kind::byte_level) {
    for (size_t i = 0; i < t.size();) {
      const int64_t cp = next_code_point(t, i);
      const int b = cp >= 0 && cp < 512 ? code_point_to_byte()[static_cast<size_t>(cp)] : -1;
      if (b >= 0) out += static_cast<char>(b);
      else if (cp >= 0) append_utf8(out, static_cast<uint32_t>(cp));  // special tokens: as written
    }
    return out;
  }
  if (kind_ == Kind::sentencepiece) {
    if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex_digit(t[3]) >= 0 && hex_digit(t[4]) >= 0)
      return std::string(1, static_cast<char>(hex_digit(t[3]) * 16 + hex_digit(t[4])));
    for (size_t i = 0; i < t.size(); ++i) {
      if (i + 2 < t.size() + 0 && t.compare(i, 3, "\xe2\x96\x81") == 0) {  // U+2581 "▁"
        out += ' ';
        i += 2;
      } else {
        out += t[i];
      }
    }
    return out;
  }
  return t;
}

}  // namespace porta_run
