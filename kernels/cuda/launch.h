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

}  // namespace porta::cuda
