// Scale reads shared by the AVX-512 quantized int4 GEMVs (quant_kernels_avx512bf16.cpp,
// quant_gemv_digits_avx512vnni.cpp). Included only by files compiled with AVX-512F/BW/VL and
// F16C; TU-local (anonymous namespace), so each file keeps its own copy for its flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "backends/cpu/quant_kernels.h"

namespace porta::cpu {
namespace {

inline float scale_of(const QuantRows& w, int64_t n, int64_t g) {
  if (w.scale_dtype == DType::f16)
    return _cvtsh_ss(reinterpret_cast<const uint16_t*>(w.scales)[n * w.scale_rs + g * w.scale_cs]);
  return w.scale(n, g);
}

/// The scales of row n's groups [g0, g0 + 16) as f32 lanes; lanes past the last group are 0
/// (they multiply the zero sums of a last, partial chunk: never garbage times zero).
inline __m512 scales16(const QuantRows& w, int64_t n, int64_t g0, int64_t G) {
  const int64_t cnt = std::min<int64_t>(16, G - g0);
  if (w.scale_dtype == DType::f16 && w.scale_cs == 1 && cnt > 0) {
    const auto* p = reinterpret_cast<const uint16_t*>(w.scales) + n * w.scale_rs + g0;
    const __m256i h = cnt == 16 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                                : _mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << cnt) - 1), p);
    return _mm512_cvtph_ps(h);
  }
  alignas(64) float buf[16] = {};
  for (int64_t j = 0; j < cnt; ++j) buf[j] = scale_of(w, n, g0 + j);
  return _mm512_load_ps(buf);
}

}  // namespace
}  // namespace porta::cpu
