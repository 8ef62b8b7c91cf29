// TEMPORARY during bring-up: weak placeholders so libporta links before every kernel
// file has landed. A kernel file's strong definition replaces its placeholder.
// This file is deleted once all kernels are in.
#include "backends/cpu/cpu_kernels.h"

namespace porta::cpu {
#define PORTA_PENDING(fn, Args)                                                             \
  __attribute__((weak)) void fn(ThreadPool&, const Args&) {                                 \
    throw Error(Errc::unsupported, "cpu: " #fn " is not implemented yet (bring-up build)"); \
  }
PORTA_PENDING(gemm, GemmArgs)
PORTA_PENDING(attention, AttentionArgs)
PORTA_PENDING(rms_norm, NormArgs)
PORTA_PENDING(layer_norm, NormArgs)
PORTA_PENDING(rope, RopeArgs)
PORTA_PENDING(softmax, SoftmaxArgs)
PORTA_PENDING(elementwise, ElementwiseArgs)
PORTA_PENDING(fill, FillArgs)
PORTA_PENDING(embedding, EmbeddingArgs)
PORTA_PENDING(argmax, ArgmaxArgs)
}  // namespace porta::cpu
