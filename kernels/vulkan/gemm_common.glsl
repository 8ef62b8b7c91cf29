// GEMM push constants and epilogue shared by the tiled, small-M and split-K kernels.
#ifndef PORTA_GEMM_COMMON_GLSL
#define PORTA_GEMM_COMMON_GLSL
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_GEMM_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

// Same codes as ops::Activation.
float activate(float v) {
  if (pc.act == 1u) return max(v, 0.0);
  if (pc.act == 2u) return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
  if (pc.act == 3u) return v / (1.0 + exp(-v));
  return v;
}
#endif
