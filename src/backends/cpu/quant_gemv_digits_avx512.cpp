// AVX-512BW int4 GEMV at M = 1 on int8 activation digits (quant_gemv_digits_avx512.h,
// vpmaddubsw form) for AVX-512 hosts without VNNI or BF16 (Skylake-SP), which otherwise take
// the f32 kernels (Zen 4, one thread, L2-resident 384 x 4096 int4 g128: 63.0 us there, 47.6 here).
#if defined(PORTA_CPU_X86)
#include "backends/cpu/quant_gemv_digits_avx512.h"

namespace porta::cpu {

void quant_gemv_digits_avx512(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  gemv_digits<false>(a, n0, n1);
}

}  // namespace porta::cpu
#endif
