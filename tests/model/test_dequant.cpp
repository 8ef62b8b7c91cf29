// GGML block formats against an element-by-element reading of the format definitions
// (ggml-common.h layouts), written independently of porta-run's block loops: random
// payload bytes with fixed scales, two blocks per format.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "dequant.h"
#include "porta/dtype.h"

namespace {

void put_half(uint8_t* p, float v) {
  const uint16_t h = porta::float_to_f16(v);
  std::memcpy(p, &h, 2);
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 r(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(r());
  return b;
}

// Q4_K: {f16 d, f16 dmin, u8 scales[12], u8 qs[128]}. Element e: sub-block j = e / 32 with 6-bit
// scale/min (j < 4: low 6 bits of bytes j / j+4; else low/high nibble of byte j+4 with the top
// two bits from bytes j-4 / j), quant = nibble (j even: low) of qs[(j / 2) * 32 + e % 32].
double q4k_element(const uint8_t* b, int e) {
  const double d = porta::f16_to_float(static_cast<uint16_t>(b[0] | b[1] << 8));
  const double dmin = porta::f16_to_float(static_cast<uint16_t>(b[2] | b[3] << 8));
  const uint8_t* sc = b + 4;
  const int j = e / 32, l = e % 32;
  int s, m;
  if (j < 4) {
    s = sc[j] % 64;
    m = sc[j + 4] % 64;
  } else {
    s = (sc[j + 4] % 16) + (sc[j - 4] / 64) * 16;
    m = (sc[j + 4] / 16) + (sc[j] / 64) * 16;
  }
  const uint8_t byte = b[16 + (j / 2) * 32 + l];
  const int q = j % 2 == 0 ? byte % 16 : byte / 16;
  return d * s * q - dmin * m;
}

// Q6_K: {u8 ql[128], u8 qh[64], i8 scales[16], f16 d}. Element e: half h = e / 128, quarter
// k = (e % 128) / 32, l = e % 32; low 4 bits from ql[h*64 + (k%2)*32 + l] (k < 2: low nibble),
// high 2 bits from qh[h*32 + l] >> 2k; value = d * scales[h*8 + 2k + l/16] * (q - 32).
double q6k_element(const uint8_t* b, int e) {
  const double d = porta::f16_to_float(static_cast<uint16_t>(b[208] | b[209] << 8));
  const int h = e / 128, k = (e % 128) / 32, l = e % 32;
  const uint8_t lo_byte = b[h * 64 + (k % 2) * 32 + l];
  const int lo = k < 2 ? lo_byte % 16 : lo_byte / 16;
  const int hi = (b[128 + h * 32 + l] >> (2 * k)) & 3;
  const int sc = static_cast<int8_t>(b[192 + h * 8 + 2 * k + l / 16]);
  return d * sc * (lo + 16 * hi - 32);
}

TEST(Dequant, Q4K) {
  std::vector<uint8_t> b = random_bytes(2 * 144, 5);
  put_half(&b[0], 0.0125f), put_half(&b[2], 0.03f);
  put_half(&b[144], -0.5f), put_half(&b[146], 0.001f);
  std::vector<float> out(512);
  porta_run::dequant_q4_k(b.data(), 512, out.data());
  for (int e = 0; e < 512; ++e) ASSERT_FLOAT_EQ(out[e], static_cast<float>(q4k_element(&b[(e / 256) * 144], e % 256))) << e;
}

TEST(Dequant, Q6K) {
  std::vector<uint8_t> b = random_bytes(2 * 210, 6);
  put_half(&b[208], 0.02f), put_half(&b[418], -1.5f);
  std::vector<float> out(512);
  porta_run::dequant_q6_k(b.data(), 512, out.data());
  for (int e = 0; e < 512; ++e) ASSERT_FLOAT_EQ(out[e], static_cast<float>(q6k_element(&b[(e / 256) * 210], e % 256))) << e;
}

TEST(Dequant, Q8_0AndQ4_0) {
  std::vector<uint8_t> b = random_bytes(34, 7);
  put_half(&b[0], 0.25f);
  std::vector<float> out(32);
  porta_run::dequant_q8_0(b.data(), 32, out.data());
  for (int e = 0; e < 32; ++e) ASSERT_EQ(out[e], 0.25f * static_cast<int8_t>(b[2 + e]));
  b = random_bytes(18, 8);
  put_half(&b[0], -0.75f);
  porta_run::dequant_q4_0(b.data(), 32, out.data());
  for (int e = 0; e < 32; ++e) {
    const int q = e < 16 ? b[2 + e] % 16 : b[2 + e - 16] / 16;
    ASSERT_EQ(out[e], -0.75f * static_cast<float>(q - 8)) << e;
  }
}

}  // namespace
