// AVX-512BW int4 GEMV at M = 1 on int8 activation digits (quant_gemv_digits_avx512.h,
// vpmaddubsw form) for AVX-512 hosts without VNNI or BF16 (Skylake-SP), which otherwise take
// the f32 kernels (0.32-0.48x the bf16-weight GEMV's time where this runs 0.27-0.33x).
#if defined(PORTA_CPU_X86)
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12's AVX-512 headers (_mm512_undefined_*)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "backends/cpu/quant_gemv_digits_avx512.h"

namespace porta::cpu {

void quant_gemv_digits_avx512(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  gemv_digits<false>(a, n0, n1);
}

}  // namespace porta::cpu
#endif
