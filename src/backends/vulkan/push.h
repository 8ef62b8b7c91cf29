// C++ structs of the non-attention shaders' push constants, expanded from the field lists the
// shaders use (kernels/vulkan/ops_push.h). Each is checked to be packed (no padding: 4-byte
// scalars, uint32_t[4] for uvec4) with every uvec4 at a 16-byte offset, as std430 lays it out.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../../kernels/vulkan/ops_push.h"
#include "backends/vulkan/pipelines.h"

namespace porta::vk {

#define PORTA_OPS_PUSH_U32(n) uint32_t n;
#define PORTA_OPS_PUSH_F32(n) float n;
#define PORTA_OPS_PUSH_UV4(n) uint32_t n[4];
#define PORTA_OPS_PUSH_WORD(n) +1
#define PORTA_OPS_PUSH_WORDS4(n) +4
#define PORTA_OPS_PUSH_NONE(n)
#define PORTA_OPS_PUSH_AT16(n) \
  static_assert(offsetof(S, n) % 16 == 0, "uvec4 '" #n "' must start at a 16-byte offset (std430)");
#define PORTA_OPS_PUSH_STRUCT(Name, LIST)                                                           \
  struct Name {                                                                                     \
    LIST(PORTA_OPS_PUSH_U32, PORTA_OPS_PUSH_F32, PORTA_OPS_PUSH_UV4)                                \
  };                                                                                                \
  struct Name##Layout {                                                                             \
    using S = Name;                                                                                 \
    LIST(PORTA_OPS_PUSH_NONE, PORTA_OPS_PUSH_NONE, PORTA_OPS_PUSH_AT16)                             \
  };                                                                                                \
  static_assert(sizeof(Name) == 4 * (0 LIST(PORTA_OPS_PUSH_WORD, PORTA_OPS_PUSH_WORD, PORTA_OPS_PUSH_WORDS4)), \
                #Name " must be packed 4-byte words, as the shader's block");                       \
  static_assert(sizeof(Name) <= kPushBytes, #Name " exceeds the guaranteed 128 bytes of push constants");

PORTA_OPS_PUSH_STRUCT(ElementwisePush, PORTA_ELEMENTWISE_PUSH)
PORTA_OPS_PUSH_STRUCT(CastCopyPush, PORTA_CAST_COPY_PUSH)
PORTA_OPS_PUSH_STRUCT(CopyVec4Push, PORTA_COPY_VEC4_PUSH)
PORTA_OPS_PUSH_STRUCT(FillPush, PORTA_FILL_PUSH)
PORTA_OPS_PUSH_STRUCT(NormPush, PORTA_NORM_PUSH)
PORTA_OPS_PUSH_STRUCT(SoftmaxPush, PORTA_SOFTMAX_PUSH)
PORTA_OPS_PUSH_STRUCT(ArgmaxPush, PORTA_ARGMAX_PUSH)
PORTA_OPS_PUSH_STRUCT(RopePush, PORTA_ROPE_PUSH)
PORTA_OPS_PUSH_STRUCT(EmbeddingPush, PORTA_EMBEDDING_PUSH)
PORTA_OPS_PUSH_STRUCT(GemmPush, PORTA_GEMM_PUSH)
PORTA_OPS_PUSH_STRUCT(GemmNaivePush, PORTA_GEMM_NAIVE_PUSH)

}  // namespace porta::vk
