// GGUF Q8_0 and Q4_0 blocks -> the canonical int8 / int4 layout (porta/quant_import.h).
#include <cstring>

#include "porta/error.h"
#include "porta/quant_import.h"

namespace porta::quant_import {
namespace {

constexpr int64_t kBlock = 32;

void check_blocks(const char* fmt, const std::string& name, int64_t n, int64_t k, size_t bytes,
                  int64_t block_bytes) {
  const std::string where = std::string("gguf ") + fmt + " tensor '" + name + "'";
  if (n < 1 || k < 1)
    throw Error(Errc::invalid_argument,
                where + ": extents [" + std::to_string(n) + ", " + std::to_string(k) + "] must be >= 1");
  if (k % kBlock != 0)
    throw Error(Errc::shape_mismatch,
                where + ": row length " + std::to_string(k) + " is not a multiple of the 32-element block");
  const int64_t want = n * (k / kBlock) * block_bytes;
  if (static_cast<int64_t>(bytes) != want)
    throw Error(Errc::shape_mismatch, where + ": " + std::to_string(bytes) + " bytes, but [" +
                                          std::to_string(n) + ", " + std::to_string(k) + "] needs " +
                                          std::to_string(want) + " (" + std::to_string(block_bytes) +
                                          " bytes per 32 elements)");
}

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }  // little endian

}  // namespace

QuantHostWeight gguf_q8_0(const std::string& name, int64_t n, int64_t k, const void* data, size_t bytes) {
  constexpr int64_t kBytes = 2 + kBlock;
  check_blocks("Q8_0", name, n, k, bytes, kBytes);
  QuantHostWeight h;
  h.scheme = {QuantFormat::int8, 32, DType::f16};
  h.n = n;
  h.k = k;
  h.codes.resize(static_cast<size_t>(n * k));
  h.scales.resize(static_cast<size_t>(n * (k / kBlock)));
  const auto* p = static_cast<const uint8_t*>(data);
  for (int64_t b = 0; b < n * (k / kBlock); ++b, p += kBytes) {
    h.scales[static_cast<size_t>(b)] = f16_to_float(read_u16(p));
    std::memcpy(&h.codes[static_cast<size_t>(b * kBlock)], p + 2, kBlock);
  }
  return h;
}

QuantHostWeight gguf_q4_0(const std::string& name, int64_t n, int64_t k, const void* data, size_t bytes) {
  constexpr int64_t kBytes = 2 + kBlock / 2;
  check_blocks("Q4_0", name, n, k, bytes, kBytes);
  QuantHostWeight h;
  h.scheme = {QuantFormat::int4, 32, DType::f16};
  h.n = n;
  h.k = k;
  h.codes.resize(static_cast<size_t>(n * k / 2));
  h.scales.resize(static_cast<size_t>(n * (k / kBlock)));
  const auto* p = static_cast<const uint8_t*>(data);
  for (int64_t b = 0; b < n * (k / kBlock); ++b, p += kBytes) {
    h.scales[static_cast<size_t>(b)] = f16_to_float(read_u16(p));
    // GGUF: element i in qs[i] & 15, element 16 + i in qs[i] >> 4. Canonical: element 2j in
    // the low nibble of byte j, 2j + 1 in the high one.
    uint8_t* dst = &h.codes[static_cast<size_t>(b * kBlock / 2)];
    const uint8_t* qs = p + 2;
    for (int j = 0; j < kBlock / 2; ++j) {
      const int e0 = 2 * j, e1 = 2 * j + 1;
      const int q0 = e0 < 16 ? qs[e0] & 15 : qs[e0 - 16] >> 4;
      const int q1 = e1 < 16 ? qs[e1] & 15 : qs[e1 - 16] >> 4;
      dst[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
  return h;
}

}  // namespace porta::quant_import
