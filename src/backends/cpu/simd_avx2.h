// AVX2 helpers shared by the *_avx2.cpp kernels (include only from files built with AVX2/F16C).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace porta::cpu::simd {

/// Loads of 8 consecutive elements of one dtype as f32, so hot loops carry no dtype dispatch.
struct LoadF32 {
  static __m256 at(const void* p, int64_t i) { return _mm256_loadu_ps(static_cast<const float*>(p) + i); }
};
struct LoadF16 {
  static __m256 at(const void* p, int64_t i) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  }
};
struct LoadBF16 {
  static __m256 at(const void* p, int64_t i) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i))),
        16));
  }
};

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace porta::cpu::simd
