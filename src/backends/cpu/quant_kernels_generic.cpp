// Portable quantized-weight kernels (any CPU), the scalar helpers the ISA sets share for
// tails, and the choice of set (quant_kernels.h).
#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "backends/cpu/cpu_features.h"
#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/quant_kernels.h"

namespace porta::cpu {

float quant_fp8_value(uint8_t code) {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[static_cast<size_t>(i)] = fp8_e4m3fn_to_float(static_cast<uint8_t>(i));
    return t;
  }();
  return table[code];
}

float quant_dot_scalar(const QuantRows& w, const uint8_t* row, int64_t j0, int64_t j1, const float* x) {
  float acc = 0.0f;
  switch (w.format) {
    case QuantFormat::int8:
      for (int64_t j = j0; j < j1; ++j) acc += static_cast<float>(static_cast<int8_t>(row[j])) * x[j];
      break;
    case QuantFormat::int4:
    case QuantFormat::int4_zp:
      for (int64_t j = j0; j < j1; ++j) acc += static_cast<float>(quant_nibble(row, j)) * x[j];
      break;
    case QuantFormat::fp8_e4m3fn:
      for (int64_t j = j0; j < j1; ++j) acc += quant_fp8_value(row[j]) * x[j];
      break;
  }
  return acc;
}

namespace {

// int4 activations arrive reordered in blocks of 2 elements: (even, odd) is the natural
// order, so the portable set reads them as they are.
constexpr int kBlock = 2;

void gemv(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  const QuantRows& w = *a.w;
  const bool nibbles = w.format == QuantFormat::int4 || w.format == QuantFormat::int4_zp;
  const int64_t G = w.groups();
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w.codes + n * w.code_rs;
    for (int m = 0; m < a.M; ++m) {
      const float* x = a.x + m * a.ldx;
      float y = 0.0f;
      for (int64_t g = 0; g < G; ++g) {
        const int64_t j0 = g * w.group, j1 = std::min(w.k, j0 + w.group);
        const float s = w.scale(n, g);
        float dot = quant_dot_scalar(w, row, j0, j1, x);
        if (nibbles) dot -= w.zero(n, g) * a.xsum[m * G + g];
        y += s * dot;
      }
      a.y[m * a.ldy + (n - n0)] = y;
    }
  }
}

void dequant_range(const QuantRows& w, int64_t n, int64_t k0, int64_t k1, float* out) {
  const uint8_t* row = w.codes + n * w.code_rs;
  out -= k0;  // out[j] from here on
  for (int64_t g = k0 / w.group; g * w.group < k1; ++g) {
    const int64_t j0 = std::max(k0, g * w.group), j1 = std::min({k1, w.k, (g + 1) * w.group});
    const float s = w.scale(n, g), z = w.zero(n, g);
    switch (w.format) {
      case QuantFormat::int8:
        for (int64_t j = j0; j < j1; ++j) out[j] = static_cast<float>(static_cast<int8_t>(row[j])) * s;
        break;
      case QuantFormat::int4:
      case QuantFormat::int4_zp:
        for (int64_t j = j0; j < j1; ++j) out[j] = (static_cast<float>(quant_nibble(row, j)) - z) * s;
        break;
      case QuantFormat::fp8_e4m3fn:
        for (int64_t j = j0; j < j1; ++j) out[j] = quant_fp8_value(row[j]) * s;
        break;
    }
  }
}

void dequant_row(const QuantRows& w, int64_t n, float* out) { dequant_range(w, n, 0, w.k, out); }

}  // namespace

const QuantKernels& quant_kernels_generic() {
  static const QuantKernels k{"generic", kBlock, &gemv, &dequant_row, &dequant_range, nullptr, nullptr};
  return k;
}

const QuantKernels& quant_kernels() {
  static const QuantKernels* chosen = [] {
    const std::string isa = gemm_microkernel().isa;
#if defined(PORTA_CPU_X86)
    if (isa == "avx512") {
      // int4 at M = 1: AVX512-BF16 (vpermw table + vdpbf16ps) met the decode bars on Zen 4;
      // on Intel (Sapphire Rapids) it ran 0.41-0.46x the bf16-weight GEMV and the VNNI digits
      // kernel faster (docs/quantized-weights.md), so auto prefers VNNI there.
      const bool bf16 = gemm_isa_bf16_allowed() && cpu_has_avx512bf16();
      const bool vnni = gemm_isa_vnni_allowed() && cpu_has_avx512vnni();
      if (vnni && (!bf16 || cpu_is_intel())) return &quant_kernels_avx512vnni();
      return bf16 ? &quant_kernels_avx512bf16() : &quant_kernels_avx512();
    }
    if (isa == "avx2") return &quant_kernels_avx2();
#endif
    (void)isa;
    return &quant_kernels_generic();
  }();
  return *chosen;
}

}  // namespace porta::cpu
