// Importers against small examples written by hand from each format's specification
// (GGUF's block structs, GPTQ's and AutoAWQ's packing loops), not from porta's packer.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "porta/quant_import.h"

namespace porta {
namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v & 0xff));
  b.push_back(static_cast<uint8_t>(v >> 8));
}

template <typename Fn>
void expect_refused(Errc code, const std::vector<std::string>& parts, Fn&& fn) {
  try {
    fn();
    ADD_FAILURE() << "no porta::Error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << p << " not in " << e.what();
  }
}

TEST(QuantImport, GgufQ4_0) {
  // Two rows of one block each: {f16 d, qs[16]}; element i in qs[i] & 15, 16 + i in qs[i] >> 4.
  std::vector<uint8_t> raw;
  const uint16_t d[2] = {0x3800, 0x4000};  // 0.5, 2.0
  for (int r = 0; r < 2; ++r) {
    put16(raw, d[r]);
    for (int i = 0; i < 16; ++i) raw.push_back(static_cast<uint8_t>(((i + r) & 15) | ((15 - i) << 4)));
  }
  const QuantHostWeight h = quant_import::gguf_q4_0("blk.0.attn_q.weight", 2, 32, raw.data(), raw.size());
  EXPECT_EQ(h.scheme.format, QuantFormat::int4);
  EXPECT_EQ(h.scheme.group, 32);
  const double ds[2] = {0.5, 2.0};
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(h.value(r, i), (((i + r) & 15) - 8) * ds[r]) << r << " " << i;
      EXPECT_EQ(h.value(r, 16 + i), ((15 - i) - 8) * ds[r]) << r << " " << i;
    }
  expect_refused(Errc::shape_mismatch, {"Q4_0", "blk.0.attn_q.weight", "36 bytes", "54"},
                 [&] { quant_import::gguf_q4_0("blk.0.attn_q.weight", 3, 32, raw.data(), raw.size()); });
  expect_refused(Errc::shape_mismatch, {"Q4_0", "'w'", "multiple of the 32-element block"},
                 [&] { quant_import::gguf_q4_0("w", 1, 48, raw.data(), raw.size()); });
}

TEST(QuantImport, GgufQ8_0) {
  // One row of two blocks {f16 d, int8 q[32]}: d = 0.25 then -1.0.
  std::vector<uint8_t> raw;
  put16(raw, 0x3400);
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<uint8_t>(static_cast<int8_t>(i - 16)));
  put16(raw, 0xbc00);
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<uint8_t>(static_cast<int8_t>(3 * i - 50)));
  const QuantHostWeight h = quant_import::gguf_q8_0("token_embd.weight", 1, 64, raw.data(), raw.size());
  EXPECT_EQ(h.scheme.format, QuantFormat::int8);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(h.value(0, i), (i - 16) * 0.25);
    EXPECT_EQ(h.value(0, 32 + i), (3 * i - 50) * -1.0);
  }
  expect_refused(Errc::shape_mismatch, {"Q8_0", "token_embd.weight"},
                 [&] { quant_import::gguf_q8_0("token_embd.weight", 1, 64, raw.data(), raw.size() - 1); });
}

// GPTQ example: N = 8 outputs, K = 64 inputs, group 32 (G = 2).
struct GptqExample {
  std::vector<int32_t> qweight = std::vector<int32_t>(8 * 8), qzeros = std::vector<int32_t>(2);
  std::vector<uint16_t> scales = std::vector<uint16_t>(2 * 8);
  static int code(int k, int n) { return (k * 7 + n * 3) % 16; }
  static int stored_zero(int g, int n) { return (n + 5 * g) % 15; }
  static double scale(int g, int n) { return (n + 1) * 0.125 + g; }
  GptqExample() {
    // qweight[i][n] packs K rows 8i + j at bits 4j (the GPTQ packer's loop over j).
    for (int i = 0; i < 8; ++i)
      for (int n = 0; n < 8; ++n) {
        uint32_t w = 0;
        for (int j = 0; j < 8; ++j) w |= static_cast<uint32_t>(code(8 * i + j, n)) << (4 * j);
        qweight[static_cast<size_t>(i * 8 + n)] = static_cast<int32_t>(w);
      }
    for (int g = 0; g < 2; ++g) {
      uint32_t z = 0;  // qzeros[g][0] packs columns 0..7 at bits 4j
      for (int n = 0; n < 8; ++n) z |= static_cast<uint32_t>(stored_zero(g, n)) << (4 * n);
      qzeros[static_cast<size_t>(g)] = static_cast<int32_t>(z);
      for (int n = 0; n < 8; ++n)
        scales[static_cast<size_t>(g * 8 + n)] = float_to_f16(static_cast<float>(scale(g, n)));
    }
  }
  quant_import::GptqTensors tensors(bool v2) const {
    quant_import::GptqTensors t;
    t.n = 8;
    t.k = 64;
    t.group = 32;
    t.v2 = v2;
    t.qweight = qweight.data(), t.qweight_rows = 8, t.qweight_cols = 8;
    t.qzeros = qzeros.data(), t.qzeros_rows = 2, t.qzeros_cols = 1;
    t.scales = scales.data(), t.scales_rows = 2, t.scales_cols = 8;
    return t;
  }
};

TEST(QuantImport, GptqV1AndV2) {
  const GptqExample ex;
  for (bool v2 : {false, true}) {
    const QuantHostWeight h = quant_import::gptq("model.layers.0.mlp.up_proj", ex.tensors(v2));
    EXPECT_EQ(h.scheme.format, QuantFormat::int4_zp);
    EXPECT_TRUE(h.perm.empty());
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < 64; ++k) {
        const int g = k / 32;
        const double z = ex.stored_zero(g, n) + (v2 ? 0 : 1);  // v1 stores zero - 1
        EXPECT_EQ(h.value(n, k), (ex.code(k, n) - z) * ex.scale(g, n))
            << "v2 " << v2 << " n " << n << " k " << k;
      }
  }
}

TEST(QuantImport, GptqActOrder) {
  const GptqExample ex;
  std::vector<int32_t> g_idx(64);
  for (int k = 0; k < 64; ++k)
    g_idx[static_cast<size_t>(k)] = k % 2;  // even channels in group 0, odd in group 1
  quant_import::GptqTensors t = ex.tensors(true);
  t.g_idx = g_idx.data();
  t.g_idx_len = 64;
  const QuantHostWeight h = quant_import::gptq("layer", t);
  ASSERT_EQ(h.perm.size(), 64u);
  for (int j = 0; j < 64; ++j) {
    const int ch = j < 32 ? 2 * j : 2 * (j - 32) + 1;
    EXPECT_EQ(h.perm[static_cast<size_t>(j)], ch);
    for (int n = 0; n < 8; ++n)
      EXPECT_EQ(h.value(n, j), (ex.code(ch, n) - ex.stored_zero(ch % 2, n)) * ex.scale(ch % 2, n));
  }
  g_idx[0] = 1;  // group 1 now holds 33 channels
  expect_refused(Errc::invalid_argument, {"layer.g_idx", "every group must hold 32"},
                 [&] { quant_import::gptq("layer", t); });
}

TEST(QuantImport, GptqRefusesBadLayouts) {
  const GptqExample ex;
  quant_import::GptqTensors t = ex.tensors(false);
  t.scales_rows = 3;
  expect_refused(Errc::shape_mismatch, {"gptq v1", "q_proj.scales", "[3, 8]", "[2, 8]"},
                 [&] { quant_import::gptq("q_proj", t); });
  t = ex.tensors(false);
  t.n = 12;
  expect_refused(Errc::shape_mismatch, {"q_proj", "N = 12", "multiple of 8"},
                 [&] { quant_import::gptq("q_proj", t); });
  t = ex.tensors(false);
  t.group = 128;
  expect_refused(Errc::shape_mismatch, {"q_proj", "group 128 does not divide K = 64"},
                 [&] { quant_import::gptq("q_proj", t); });
}

TEST(QuantImport, Awq) {
  // N = 16 outputs, K = 32 inputs, group 32. qweight [32, 2], nibble p holds column 8c + order[p].
  const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  auto code = [](int k, int n) { return (k + 2 * n) % 16; };
  auto zero = [](int n) { return (3 * n + 1) % 16; };
  std::vector<int32_t> qweight(32 * 2), qzeros(2);
  std::vector<uint16_t> scales(16);
  for (int k = 0; k < 32; ++k)
    for (int c = 0; c < 2; ++c) {
      uint32_t w = 0;
      for (int p = 0; p < 8; ++p) w |= static_cast<uint32_t>(code(k, 8 * c + order[p])) << (4 * p);
      qweight[static_cast<size_t>(k * 2 + c)] = static_cast<int32_t>(w);
    }
  for (int c = 0; c < 2; ++c) {
    uint32_t z = 0;
    for (int p = 0; p < 8; ++p) z |= static_cast<uint32_t>(zero(8 * c + order[p])) << (4 * p);
    qzeros[static_cast<size_t>(c)] = static_cast<int32_t>(z);
  }
  for (int n = 0; n < 16; ++n) scales[static_cast<size_t>(n)] = float_to_f16(0.5f + n);
  quant_import::AwqTensors t;
  t.n = 16;
  t.k = 32;
  t.group = 32;
  t.qweight = qweight.data(), t.qweight_rows = 32, t.qweight_cols = 2;
  t.qzeros = qzeros.data(), t.qzeros_rows = 1, t.qzeros_cols = 2;
  t.scales = scales.data(), t.scales_rows = 1, t.scales_cols = 16;
  const QuantHostWeight h = quant_import::awq("model.layers.3.self_attn.o_proj", t);
  for (int n = 0; n < 16; ++n)
    for (int k = 0; k < 32; ++k)
      EXPECT_EQ(h.value(n, k), (code(k, n) - zero(n)) * (0.5 + n)) << n << " " << k;
  t.qzeros_cols = 3;
  expect_refused(Errc::shape_mismatch, {"awq", "o_proj.qzeros", "[1, 3]", "[1, 2]"},
                 [&] { quant_import::awq("model.layers.3.self_attn.o_proj", t); });
}

}  // namespace
}  // namespace porta
