// AVX2 vector traits of the quantized-weight kernels (quant_kernels_simd.h): 8 lanes, int4
// blocks of 16 elements (one 8-byte load widened to 8 dword lanes; low nibbles are the even
// elements, high nibbles the odd ones). Included only by *_avx2.cpp files, which are compiled
// with AVX2 + FMA + F16C; TU-local (anonymous namespace).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace porta::cpu {
namespace {

struct V256 {
  using F = __m256;
  using I = __m256i;
  static constexpr int L = 8;
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static I u8(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static I s8(const uint8_t* p) {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static F low4(I v) { return cvt(_mm256_and_si256(v, _mm256_set1_epi32(15))); }
  static F high4(I v) { return cvt(_mm256_srli_epi32(v, 4)); }
  // As V512::fp8p: 8 E4M3FN bytes through f16 bit patterns and F16C; 0x7f/0xff are NaN.
  static F fp8p(const uint8_t* p) {
    const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m128i t = _mm_slli_epi16(b, 7);
    const __m128i h = _mm_add_epi16(t, _mm_and_si128(t, _mm_set1_epi16(0x4000)));
    const F f = _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(256.0f));
    const __m128i nan16 = _mm_cmpeq_epi16(_mm_and_si128(b, _mm_set1_epi16(0x7f)), _mm_set1_epi16(0x7f));
    const F nan = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan16));
    return _mm256_blendv_ps(f, _mm256_set1_ps(__builtin_nanf("")), nan);
  }
  static void h2f16(const uint16_t* p, float* out) {
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    _mm256_storeu_ps(out + 8, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8))));
  }
  static float h2f(uint16_t h) { return _cvtsh_ss(h); }
  static float hsum(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static void store_pairs(F lo, F hi, float* out) {
    const F a = _mm256_unpacklo_ps(lo, hi), b = _mm256_unpackhi_ps(lo, hi);
    _mm256_storeu_ps(out, _mm256_permute2f128_ps(a, b, 0x20));
    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(a, b, 0x31));
  }
};

}  // namespace
}  // namespace porta::cpu
