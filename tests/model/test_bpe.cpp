// Byte-level BPE text encoding (tools/porta-run/bpe.cpp) against its definition:
// - the llama-bpe and qwen2 pre-tokenizers split hand-checked strings as their regexes say
//   (contractions in any case, digit runs of 3 vs 1, the whitespace look-ahead, newlines,
//   non-ASCII letters);
// - merges: a vocabulary and merge list trained here by a small BPE trainer; every text is
//   encoded and compared with an independent reference that applies the merges in rank
//   order over the whole piece, and decoded back to the same bytes; hand-worked ids for a
//   few merges whose order matters;
// - special tokens are matched verbatim; a GGUF file's tokenizer.ggml.merges / pre /
//   token_type / add_bos_token reach the encoder; unknown pre-tokenizers are named.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>

#include "bpe.h"
#include "checkpoint.h"
#include "load_error.h"
#include "tiny_model.h"
#include "vocab.h"

namespace {

using porta_run::BpeEncoder;
using Pieces = std::vector<std::string>;

// GPT-2's byte -> code point map, the test's own copy: printable Latin-1 bytes stand for
// themselves, the rest are 256, 257, ... in byte order.
std::string byte_symbol(unsigned char b) {
  static const std::vector<std::string> t = [] {
    std::vector<std::string> v(256);
    uint32_t next = 256;
    for (int c = 0; c < 256; ++c) {
      const bool keep = (c >= '!' && c <= '~') || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff);
      porta_run::append_utf8(v[static_cast<size_t>(c)], keep ? static_cast<uint32_t>(c) : next++);
    }
    return v;
  }();
  return t[b];
}

std::vector<std::string> byte_tokens() {
  std::vector<std::string> t;
  for (int b = 0; b < 256; ++b) t.push_back(byte_symbol(static_cast<unsigned char>(b)));
  return t;
}

Pieces split(const char* pre, const std::string& text) {
  return BpeEncoder(byte_tokens(), {}, {}, pre, "test").pre_tokenize(text);
}

TEST(Bpe, PreTokenizersSplitAsTheirRegexes) {
  const std::string s = "Hello world's 12345 numbers!!\n\n  end   ";
  EXPECT_EQ(split("llama-bpe", s),
            (Pieces{"Hello", " world", "'s", " ", "123", "45", " numbers", "!!\n\n", " ", " end", "   "}));
  EXPECT_EQ(split("qwen2", s), (Pieces{"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " numbers",
                                       "!!\n\n", " ", " end", "   "}));
  // contractions in any case; a letter run takes one leading non-letter (not a newline)
  EXPECT_EQ(split("llama-bpe", "DON'T we'LL"), (Pieces{"DON", "'T", " we", "'LL"}));
  EXPECT_EQ(split("llama-bpe", "a\nb"), (Pieces{"a", "\n", "b"}));
  EXPECT_EQ(split("llama-bpe", "x  \n\ty"), (Pieces{"x", "  \n", "\ty"}));
  // non-ASCII letters are letters; punctuation runs keep one leading space
  EXPECT_EQ(split("qwen2", " café über 你好世界 ... ok"),
            (Pieces{" café", " über", " 你好世界", " ...", " ok"}));
  EXPECT_EQ(split("llama-bpe", "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(split("llama-bpe", ""), Pieces{});
}

// A vocabulary trained here: the 256 byte symbols, then `n` merges learned greedily (most
// frequent adjacent pair, ties to the smallest pair) over the pieces of a small corpus.
struct Trained {
  std::vector<std::string> tokens, merges;
};

Trained train(const std::vector<std::string>& corpus, const char* pre, int n) {
  Trained t{byte_tokens(), {}};
  BpeEncoder pieces_of(t.tokens, {}, {}, pre, "train");
  std::vector<std::vector<std::string>> words;
  for (const std::string& text : corpus)
    for (const std::string& p : pieces_of.pre_tokenize(text)) {
      std::vector<std::string> w;
      for (unsigned char c : p) w.push_back(byte_symbol(c));
      words.push_back(w);
    }
  for (int m = 0; m < n; ++m) {
    std::map<std::pair<std::string, std::string>, int> count;
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.size(); ++i) ++count[{w[i], w[i + 1]}];
    if (count.empty()) break;
    auto best = count.begin();
    for (auto it = count.begin(); it != count.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [l, r] = best->first;
    t.merges.push_back(l + " " + r);
    t.tokens.push_back(l + r);
    for (auto& w : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == l && w[i + 1] == r) {
          out.push_back(l + r);
          ++i;
        } else {
          out.push_back(w[i]);
        }
      }
      w = out;
    }
  }
  return t;
}

// The reference: each merge rule in rank order applied to the whole piece, left to right.
std::vector<std::string> apply_in_order(const std::string& piece, const std::vector<std::string>& merges) {
  std::vector<std::string> sym;
  for (unsigned char c : piece) sym.push_back(byte_symbol(c));
  for (const std::string& m : merges) {
    const std::string l = m.substr(0, m.find(' ')), r = m.substr(m.find(' ') + 1);
    std::vector<std::string> out;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == l && sym[i + 1] == r) {
        out.push_back(l + r);
        ++i;
      } else {
        out.push_back(sym[i]);
      }
    }
    sym = out;
  }
  return sym;
}

TEST(Bpe, EncodesByTheMergesOfATrainedVocabulary) {
  const std::vector<std::string> corpus = {
      "the cat sat on the mat; the cats sat on the mats.",
      "There, then, the theme: 1234 times 56 at 7:30.",
      "Don't re-enter! They'll say it's the weather's fault",
      "Grüße aus Köln: schöne Grüße, schöne Straße.",
      "数据 数据库 数据中心 中心",
      "tabs\tand  spaces   and\nnewlines\n\nhere",
  };
  for (const char* pre : {"llama-bpe", "qwen2"}) {
    const Trained t = train(corpus, pre, 100);
    ASSERT_EQ(t.merges.size(), 100u);
    const BpeEncoder enc(t.tokens, t.merges, {}, pre, "trained");
    std::map<std::string, int32_t> id;
    for (size_t i = 0; i < t.tokens.size(); ++i) id.emplace(t.tokens[i], static_cast<int32_t>(i));
    const porta_run::Vocab vocab(porta_run::Vocab::Kind::byte_level, t.tokens);
    std::vector<std::string> texts = corpus;
    texts.insert(texts.end(), {"the theme of the cats", "thethethe", "  the", "Straßenbahn in Köln",
                               "数据中心的数据", "\xf0\x9f\x98\x80 emoji \xf0\x9f\x98\x80!", "x"});
    size_t merged = 0;
    for (const std::string& text : texts) {
      std::vector<int32_t> want;
      for (const std::string& piece : enc.pre_tokenize(text))
        for (const std::string& sym : apply_in_order(piece, t.merges)) want.push_back(id.at(sym));
      const std::vector<int32_t> got = enc.encode(text);
      EXPECT_EQ(got, want) << pre << ": '" << text << "'";
      std::string back;
      for (int32_t i : got) back += vocab.decode(i);
      EXPECT_EQ(back, text) << pre;
      merged += text.size() - got.size();
    }
    EXPECT_GT(merged, 100u) << "the merges barely applied: a weak test";
  }
}

TEST(Bpe, LowestRankFirstHandWorked) {
  // "the": (h,e) rank 1 before (t,h) rank 3, then (t,he) rank 4: one token. " cat": (Ġ,c)
  // rank 0 first, then (a,t) rank 2, then (Ġc,at) rank 5. Ids: byte b is token b, the
  // merged tokens 256.. in merge order.
  std::vector<std::string> tokens = byte_tokens();
  const std::vector<std::string> merges = {"\xc4\xa0 c",
                                           "h e",
                                           "a t",
                                           "t h",
                                           "t he",
                                           "\xc4\xa0"
                                           "c at"};
  for (const char* m : {"\xc4\xa0"
                        "c",
                        "he", "at", "th", "the",
                        "\xc4\xa0"
                        "cat"})
    tokens.push_back(m);
  const BpeEncoder enc(tokens, merges, {}, "llama-bpe", "hand");
  EXPECT_EQ(enc.merge("the"), (std::vector<std::string>{"the"}));
  EXPECT_EQ(enc.merge(" cat"), (std::vector<std::string>{"\xc4\xa0"
                                                         "cat"}));
  EXPECT_EQ(enc.merge("tht"), (std::vector<std::string>{"th", "t"}));
  EXPECT_EQ(enc.encode("the cat"), (std::vector<int32_t>{260, 261}));
  EXPECT_EQ(enc.encode("hat"),
            (std::vector<int32_t>{'h' - 0, 258}));  // printable bytes are their own ids here
}

TEST(Bpe, SpecialTokensAreMatchedVerbatim) {
  std::vector<std::string> tokens = byte_tokens();
  tokens.push_back("<|begin_of_text|>");
  tokens.push_back("<|eot_id|>");
  std::vector<int> types(tokens.size(), 1);
  types[256] = BpeEncoder::kControl;
  types[257] = BpeEncoder::kControl;
  const BpeEncoder enc(tokens, {}, types, "llama-bpe", "special");
  EXPECT_EQ(enc.encode("<|begin_of_text|>hi<|eot_id|><|eot_id|>"),
            (std::vector<int32_t>{256, 'h', 'i', 257, 257}));
  EXPECT_EQ(enc.encode("<|begin_of_text"), (std::vector<int32_t>{'<', '|', 'b', 'e', 'g', 'i', 'n', '_', 'o',
                                                                 'f', '_', 't', 'e', 'x', 't'}));
}

TEST(Bpe, MalformedOrUnknownIsRefusedByName) {
  EXPECT_THROW(BpeEncoder(byte_tokens(), {"ab"}, {}, "llama-bpe", "m"), porta_run::LoadError);
  try {
    BpeEncoder(byte_tokens(), {}, {}, "deepseek-llm", "m.gguf");
    ADD_FAILURE() << "unknown pre-tokenizer accepted";
  } catch (const porta_run::LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("'deepseek-llm'"), std::string::npos) << e.what();
  }
  // a merge product missing from the vocabulary
  const BpeEncoder enc(byte_tokens(), {"a b"}, {}, "qwen2", "m.gguf");
  EXPECT_THROW(enc.encode("ab"), porta_run::LoadError);
}

// A GGUF file's tokenizer keys reach the encoder (the tiny model's 512-token vocabulary:
// bytes, the trained merges' tokens, specials, fillers).
TEST(Bpe, GgufTokenizerKeys) {
  porta_run_test::TinySpec spec;
  spec.layers = 1;
  const porta_run_test::TinyModel m = porta_run_test::make_tiny(spec, 3);
  const Trained t = train({"the cat sat on the mat", "the theme"}, "llama-bpe", 20);
  porta_run_test::GgufTokenizer tok;
  tok.tokens = t.tokens;
  tok.merges = t.merges;
  tok.tokens.push_back("<|begin_of_text|>");
  while (tok.tokens.size() < 512)
    tok.tokens.push_back("<|reserved_" + std::to_string(tok.tokens.size()) + "|>");
  tok.types.assign(tok.tokens.size(), 1);
  for (size_t i = t.tokens.size(); i < tok.tokens.size(); ++i) tok.types[i] = BpeEncoder::kControl;
  tok.pre = "llama-bpe";
  tok.add_bos = true;
  const std::string dir = ::testing::TempDir() + "porta_run_bpe_" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0755);
  porta_run_test::write_gguf(m, dir + "/a.gguf", porta_run_test::FileType::f32, &tok);
  auto ck = porta_run::Checkpoint::open(dir + "/a.gguf");
  ASSERT_NE(ck->encoder(), nullptr) << ck->encoder_note();
  EXPECT_TRUE(ck->add_bos());
  const BpeEncoder ref(t.tokens, t.merges, {}, "llama-bpe", "ref");
  std::vector<int32_t> want = {static_cast<int32_t>(t.tokens.size())};
  const std::vector<int32_t> body = ref.encode("the cat sat");
  want.insert(want.end(), body.begin(), body.end());
  EXPECT_EQ(ck->encoder()->encode("<|begin_of_text|>the cat sat"), want);
  EXPECT_LT(body.size(), 6u);  // merged: "the", " cat", " sat"

  tok.pre = "falcon";
  porta_run_test::write_gguf(m, dir + "/b.gguf", porta_run_test::FileType::f32, &tok);
  auto ck2 = porta_run::Checkpoint::open(dir + "/b.gguf");
  EXPECT_EQ(ck2->encoder(), nullptr);
  EXPECT_NE(ck2->encoder_note().find("'falcon'"), std::string::npos) << ck2->encoder_note();
}

}  // namespace
