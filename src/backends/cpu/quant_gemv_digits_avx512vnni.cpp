// AVX-512 VNNI int4 GEMV at M = 1 on int8 activation digits (quant_gemv_digits_avx512.h,
// vpdpbusd form). Compiled with -mavx512vnni; chosen only where CPUID reports it.
#if defined(PORTA_CPU_X86)
#include "backends/cpu/quant_gemv_digits_avx512.h"

namespace porta::cpu {

const QuantKernels& quant_kernels_avx512vnni() {
  static const QuantKernels k = [] {
    QuantKernels s = quant_kernels_avx512();
    s.isa = "avx512vnni";
    s.split_bf16 = nullptr;
    s.gemv_bf16 = nullptr;
    s.split_digits = &quant_split_digits_avx2;  // AVX2 code: every AVX-512 host runs it
    s.gemv_digits = &gemv_digits<true>;
    s.digit_block = static_cast<int>(kWindow);
    return s;
  }();
  return k;
}

}  // namespace porta::cpu
#endif
