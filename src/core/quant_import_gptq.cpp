// GPTQ (v1 / v2, optional act-order g_idx) and AutoAWQ "gemm" layouts -> the canonical
// int4_zp layout (porta/quant_import.h).
#include <algorithm>
#include <numeric>
#include <vector>

#include "porta/error.h"
#include "porta/quant_import.h"

namespace porta::quant_import {
namespace {

[[noreturn]] void refuse(Errc c, const std::string& fmt, const std::string& name, const std::string& msg) {
  throw Error(c, fmt + " tensor '" + name + "': " + msg);
}

std::string dims(int64_t r, int64_t c) { return "[" + std::to_string(r) + ", " + std::to_string(c) + "]"; }

/// Checks one packed tensor's shape (name "<layer>.<part>").
void want_shape(const std::string& fmt, const std::string& name, const char* part, const void* p, int64_t r,
                int64_t c, int64_t wr, int64_t wc) {
  if (p == nullptr) refuse(Errc::invalid_argument, fmt, name + "." + part, "missing (null data)");
  if (r != wr || c != wc)
    refuse(Errc::shape_mismatch, fmt, name + "." + part, "is " + dims(r, c) + ", expected " + dims(wr, wc));
}

/// Common checks; returns the group size resolved against k.
int64_t check_common(const std::string& fmt, const std::string& name, int64_t n, int64_t k, int group) {
  if (n < 1 || k < 1) refuse(Errc::invalid_argument, fmt, name, "extents " + dims(n, k) + " must be >= 1");
  if (n % 8 != 0)
    refuse(Errc::shape_mismatch, fmt, name,
           "N = " + std::to_string(n) + " is not a multiple of 8 (8 nibbles per int32)");
  if (k % 8 != 0)
    refuse(Errc::shape_mismatch, fmt, name, "K = " + std::to_string(k) + " is not a multiple of 8");
  const int64_t g = group == -1 ? k : group;
  if (g != 32 && g != 64 && g != 128 && g != k)
    refuse(Errc::invalid_argument, fmt, name,
           "group " + std::to_string(group) + " is not 32, 64, 128 or -1 (all of K)");
  if (k % g != 0)
    refuse(Errc::shape_mismatch, fmt, name,
           "group " + std::to_string(g) + " does not divide K = " + std::to_string(k));
  return g;
}

QuantHostWeight make(int64_t n, int64_t k, int64_t g) {
  QuantHostWeight h;
  h.scheme = {QuantFormat::int4_zp,
              g == k && g != 32 && g != 64 && g != 128 ? QuantScheme::kPerChannel : static_cast<int>(g),
              DType::f16};
  h.n = n;
  h.k = k;
  h.codes.assign(static_cast<size_t>(n * ((k + 1) / 2)), 0);
  h.scales.resize(static_cast<size_t>(n * (k / g)));
  h.zeros.resize(static_cast<size_t>(n * (k / g)));
  return h;
}

void put(QuantHostWeight& h, int64_t n, int64_t j, int q) {
  uint8_t& b = h.codes[static_cast<size_t>(n * ((h.k + 1) / 2) + j / 2)];
  b = static_cast<uint8_t>(j % 2 ? (b & 0x0f) | (q << 4) : (b & 0xf0) | q);
}

int nibble(int32_t word, int p) { return static_cast<int>((static_cast<uint32_t>(word) >> (4 * p)) & 15u); }

}  // namespace

QuantHostWeight gptq(const std::string& name, const GptqTensors& t) {
  const std::string fmt = t.v2 ? "gptq v2" : "gptq v1";
  const int64_t n = t.n, k = t.k, g = check_common(fmt, name, n, k, t.group), G = k / g;
  want_shape(fmt, name, "qweight", t.qweight, t.qweight_rows, t.qweight_cols, k / 8, n);
  want_shape(fmt, name, "qzeros", t.qzeros, t.qzeros_rows, t.qzeros_cols, G, n / 8);
  want_shape(fmt, name, "scales", t.scales, t.scales_rows, t.scales_cols, G, n);
  // Act order: sort input channels by group (stable); column j of the result is channel perm[j].
  std::vector<int32_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  bool trivial = true;
  if (t.g_idx) {
    if (t.g_idx_len != k)
      refuse(Errc::shape_mismatch, fmt, name + ".g_idx",
             "has " + std::to_string(t.g_idx_len) + " entries, expected K = " + std::to_string(k));
    std::vector<int64_t> count(static_cast<size_t>(G), 0);
    for (int64_t i = 0; i < k; ++i) {
      const int32_t gi = t.g_idx[i];
      if (gi < 0 || gi >= G)
        refuse(Errc::invalid_argument, fmt, name + ".g_idx",
               "entry " + std::to_string(i) + " = " + std::to_string(gi) + " is not a group in [0, " +
                   std::to_string(G) + ")");
      ++count[static_cast<size_t>(gi)];
      trivial = trivial && gi == i / g;
    }
    for (int64_t gi = 0; gi < G; ++gi)
      if (count[static_cast<size_t>(gi)] != g)
        refuse(Errc::invalid_argument, fmt, name + ".g_idx",
               "group " + std::to_string(gi) + " holds " + std::to_string(count[static_cast<size_t>(gi)]) +
                   " channels; every group must hold " + std::to_string(g));
    if (!trivial)
      std::stable_sort(perm.begin(), perm.end(),
                       [&](int32_t a, int32_t b) { return t.g_idx[a] < t.g_idx[b]; });
  }
  QuantHostWeight h = make(n, k, g);
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t ch = perm[static_cast<size_t>(j)];
      put(h, c, j, nibble(t.qweight[(ch / 8) * n + c], static_cast<int>(ch % 8)));
    }
    for (int64_t gi = 0; gi < G; ++gi) {
      const int z = nibble(t.qzeros[gi * (n / 8) + c / 8], static_cast<int>(c % 8));
      h.zeros[static_cast<size_t>(c * G + gi)] = static_cast<float>(t.v2 ? z : z + 1);
      h.scales[static_cast<size_t>(c * G + gi)] = f16_to_float(t.scales[gi * n + c]);
    }
  }
  if (!trivial) h.perm = perm;
  return h;
}

QuantHostWeight awq(const std::string& name, const AwqTensors& t) {
  const std::string fmt = "awq";
  const int64_t n = t.n, k = t.k, g = check_common(fmt, name, n, k, t.group), G = k / g;
  want_shape(fmt, name, "qweight", t.qweight, t.qweight_rows, t.qweight_cols, k, n / 8);
  want_shape(fmt, name, "qzeros", t.qzeros, t.qzeros_rows, t.qzeros_cols, G, n / 8);
  want_shape(fmt, name, "scales", t.scales, t.scales_rows, t.scales_cols, G, n);
  // Nibble p of a packed int32 holds column 8c + kOrder[p]; so column 8c + i is in nibble kSlot[i].
  constexpr int kSlot[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  QuantHostWeight h = make(n, k, g);
  for (int64_t c = 0; c < n; ++c) {
    const int slot = kSlot[c % 8];
    for (int64_t j = 0; j < k; ++j) put(h, c, j, nibble(t.qweight[j * (n / 8) + c / 8], slot));
    for (int64_t gi = 0; gi < G; ++gi) {
      h.zeros[static_cast<size_t>(c * G + gi)] =
          static_cast<float>(nibble(t.qzeros[gi * (n / 8) + c / 8], slot));
      h.scales[static_cast<size_t>(c * G + gi)] = f16_to_float(t.scales[gi * n + c]);
    }
  }
  return h;
}

}  // namespace porta::quant_import
