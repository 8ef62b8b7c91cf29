// Which quantized-weight launches (kernels/cuda/quant.cu) take the 16-byte vector paths:
// plain C++ over the kernel descriptors, unit-tested without a GPU.
#pragma once

#include "kernels/cuda/kernel_args.h"

namespace porta::cuda {

/// Dequantize (dequantize, embedding rows, the M > 16 gemm path's weight blocks): 8
/// elements per thread with one code load and 16-byte stores. Needs no column scatter
/// (no `unpermute` with a permutation present), a unit column stride, a 16-byte aligned
/// output with row strides of whole 16 bytes, code rows aligned for one 4-byte (int4) or
/// 8-byte (8-bit codes) load per 8 elements, and 8-element chunks inside one group.
bool quant_dequant_vec(const QuantDequantDesc& d);

/// GEMV (M <= 16): a lane loads 16 bytes of one code row (32 int4 or 16 8-bit elements),
/// all in one group: 16-byte aligned codes and code rows, k and the group multiples of it.
bool quant_gemv_vec(const QWDesc& w);

}  // namespace porta::cuda
