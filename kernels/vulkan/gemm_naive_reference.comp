#version 450
// Benchmark reference only (never used by porta's ops): one invocation per output of a
// contiguous f32 C = A B, the naive kernel porta-bench compares the tiled GEMM against.
#include "ops_push.h"
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer C { float c[]; };
layout(push_constant) uniform PC { PORTA_GEMM_NAIVE_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

void main() {
  const uint n = gl_GlobalInvocationID.x, m = gl_GlobalInvocationID.y;
  if (m >= pc.M || n >= pc.N) return;
  float s = 0.0;
  for (uint k = 0; k < pc.K; ++k) s += a[m * pc.K + k] * b[k * pc.N + n];
  c[m * pc.N + n] = s;
}
