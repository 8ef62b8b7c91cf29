// AVX-512 quantized-weight kernels: 16 lanes, int4 blocks of 32 elements (one 16-byte load
// widened to 16 dword lanes; low nibbles are the even elements, high nibbles the odd ones).
// GCC 12 reports its own AVX-512 intrinsic headers' undefined-source operands (__Y) as
// "may be used uninitialized" once these inline into the templated loops: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "backends/cpu/quant_kernels_simd.h"

namespace porta::cpu {
namespace {

struct V512 {
  using F = __m512;
  using I = __m512i;
  static constexpr int L = 16;
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static I u8(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I s8(const uint8_t* p) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static F low4(I v) { return cvt(_mm512_and_si512(v, _mm512_set1_epi32(15))); }
  static F high4(I v) { return cvt(_mm512_srli_epi32(v, 4)); }
  // 16 E4M3FN bytes as f32, exactly: each byte becomes the f16 with the same sign, exponent
  // field (E4M3's 4 bits at the bottom of f16's 5) and mantissa (byte << 7, the sign moved
  // from bit 14 to 15 by adding it to itself), converted by F16C and scaled by 2^(15 − 7);
  // E4M3 subnormals land on f16 subnormals, which convert exactly (building f32 subnormals
  // and multiplying them instead cost a microcode assist per code with exponent 0: one in
  // 16 random codes made the f32 path 4x slower). 0x7f/0xff are NaN.
  static F fp8p(const uint8_t* p) {
    const __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i t = _mm256_slli_epi16(b, 7);
    const __m256i h = _mm256_add_epi16(t, _mm256_and_si256(t, _mm256_set1_epi16(0x4000)));
    const F f = _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f));
    const __mmask16 nan =
        _mm256_cmpeq_epi16_mask(_mm256_and_si256(b, _mm256_set1_epi16(0x7f)), _mm256_set1_epi16(0x7f));
    return _mm512_mask_mov_ps(f, nan, _mm512_set1_ps(__builtin_nanf("")));
  }
  static void h2f16(const uint16_t* p, float* out) {
    _mm512_storeu_ps(out, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
  }
  static float h2f(uint16_t h) { return _cvtsh_ss(h); }
  static float hsum(F v) { return _mm512_reduce_add_ps(v); }
  static void store_pairs(F lo, F hi, float* out) {
    const I i0 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const I i1 = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    _mm512_storeu_ps(out, _mm512_permutex2var_ps(lo, i0, hi));
    _mm512_storeu_ps(out + 16, _mm512_permutex2var_ps(lo, i1, hi));
  }
};

}  // namespace

const QuantKernels& quant_kernels_avx512() {
  static const QuantKernels k = [] {
    QuantKernels s{"avx512", 2 * V512::L, &gemv<V512>, &dequant_row<V512>, &dequant_range<V512>,
                   nullptr,  nullptr,     true};
    s.split_digits = &quant_split_digits_avx2;  // AVX2 code: every AVX-512 host runs it
    s.gemv_digits = &quant_gemv_digits_avx512;
    s.digit_block = 128;  // one 64-byte code load
    return s;
  }();
  return k;
}

}  // namespace porta::cpu
