// AVX2 quantized-weight kernels: the shared f32 kernels over V256 (quant_v256_avx2.h), and
// the int4 GEMV on int8 activation digits (quant_gemv_digits_avx2.cpp) at M = 1.
#include "backends/cpu/quant_kernels_simd.h"
#include "backends/cpu/quant_v256_avx2.h"

namespace porta::cpu {

const QuantKernels& quant_kernels_avx2() {
  static const QuantKernels k{
      "avx2",  2 * V256::L, &gemv<V256>, &dequant_row<V256>,       &dequant_range<V256>,
      nullptr, nullptr,     true,        &quant_split_digits_avx2, &quant_gemv_digits_avx2};
  return k;
}

}  // namespace porta::cpu
