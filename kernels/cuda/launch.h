// Host-callable launchers of the kernels in kernels/cuda/*.cu. Each enqueues on `stream`
// (a pcStream_t passed as void*, so this header needs no CUDA headers) and returns the
// launch status as an int (pcError_t's value; 0 is success). The host code in
// src/backends/cuda/ turns non-zero statuses into porta::Error (cuda_error.h).
#pragma once

#include "kernel_args.h"

namespace porta::cuda {

int launch_elementwise(const ElementwiseDesc& d, void* stream);  // elementwise.cu
int launch_cast_copy(const ElementwiseDesc& d, void* stream);    // cast_copy.cu
int launch_fill(const FillDesc& d, void* stream);                // fill.cu
int launch_norm(const NormDesc& d, void* stream);                // norm.cu
int launch_softmax(const SoftmaxDesc& d, void* stream);          // softmax.cu
int launch_rope(const RopeDesc& d, void* stream);                // rope.cu
int launch_embedding(const EmbeddingDesc& d, void* stream);      // embedding.cu
int launch_argmax(const ArgmaxDesc& d, void* stream);            // argmax.cu

// GEMM paths (gemm_plan.h chooses): portable SIMT tiles, decode GEMV, sm80 mma.sync with a
// cp.async pipeline, sm90a TMA + wgmma (warp-specialised, persistent); split-K partials reduced by
// gemm_reduce.
int launch_gemm_simt(const GemmDesc& d, const GemmTile& t, void* stream);  // gemm_simt.cu
int launch_gemv(const GemmDesc& d, void* stream);                          // gemv.cu
int launch_gemm_sm80(const GemmDesc& d, const GemmTile& t, void* stream);  // gemm_sm80_mma.cu
int launch_gemm_sm90(const GemmDesc& d, const GemmTile& t, const GemmSm90Maps& maps,
                     void* stream);  // gemm_sm90_tma_ws.cu
int launch_gemm_reduce(const GemmDesc& d, void* stream);                   // gemm_simt.cu
/// True when this build carries the NVIDIA-only kernels (mma.sync, cp.async).
bool gemm_sm80_compiled();
/// True when this build carries the sm_90a TMA/wgmma kernel (its body exists only in sm_90a code).
bool gemm_sm90_compiled();

// Attention: one split-KV flash kernel (prefill and decode), plus the combine pass.
int launch_attention_simt(const AttentionDesc& d, void* stream);  // attention_simt.cu
int launch_attention_combine(const AttentionDesc& d, void* stream);
int launch_attention_sm80(const AttentionDesc& d, void* stream);  // attention_sm80_mma.cu (FA2-style)
/// True when this build carries the mma.sync attention kernel.
bool attention_sm80_compiled();
int launch_attention_sm90(const AttentionDesc& d, void* stream);  // attention_sm90_wgmma.cu (FA3-style)
/// True when this build carries the sm_90a wgmma attention kernel (body only in sm_90a code).
bool attention_sm90_compiled();
/// Split-KV decode (Sq * G <= 8 rows per KV head, K/V read once); partials merged by
/// launch_attention_combine when d.splits > 1.
int launch_attention_decode(const AttentionDesc& d, void* stream);  // attention_decode.cu
bool attention_decode_compiled();

}  // namespace porta::cuda

// Bandwidth paths of the row and element-wise ops (cuda-rows section, appended): planned by
// src/backends/cuda/rows_plan.h; the launchers above stay the strided fallbacks.
namespace porta::cuda {
int launch_norm_dense(const NormDesc& d, const RowsLaunch& p, void* stream);           // norm.cu
int launch_softmax_dense(const SoftmaxDesc& d, const RowsLaunch& p, void* stream);     // softmax.cu
int launch_rope_vec(const RopeDesc& d, const RopeLaunch& p, void* stream);             // rope.cu
int launch_argmax_split(const ArgmaxDesc& d, const ArgmaxSplit& p, void* stream);      // argmax.cu
int launch_elementwise_rows(const ElementwiseDesc& d, const VecRowsLaunch& p, void* stream);  // elementwise.cu
int launch_copy_rows(const ElementwiseDesc& d, const VecRowsLaunch& p, void* stream);  // cast_copy.cu
int launch_embedding_rows(const EmbeddingDesc& d, const VecRowsLaunch& p, void* stream);  // embedding.cu
/// Dense fill with 16-byte stores; dst contiguous and 16-byte aligned.
int launch_fill_vec16(const FillDesc& d, void* stream);  // fill.cu
}  // namespace porta::cuda

// Quantized weights (quant section, appended): quant.cu.
namespace porta::cuda {
int launch_quant_dequant(const QuantDequantDesc& d, void* stream);
/// M <= 16: streams the packed codes (one 32-lane group per output column).
int launch_quant_gemv(const QuantGemvDesc& d, void* stream);
int launch_quantize(const QuantizeDesc& d, void* stream);
}  // namespace porta::cuda
