#version 450
// Split-K second pass: C = act(alpha * sum of the f32 partials + beta * C + bias).
#include "common.glsl"
#include "gemm_common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Part { float v[]; } part;
layout(std430, binding = 1) buffer C { uint w[]; } tc;
layout(std430, binding = 2) buffer Bias { uint w[]; } tbias;
PORTA_TENSOR_IO(tc)
PORTA_TENSOR_IO(tbias)

void main() {
  const uint batch = pc.sa_b;  // reused: number of batches
  const uint total = batch * pc.M * pc.N;
  const uint ec = dt_size(pc.dt_c), eg = dt_size(pc.dt_bias);
  for (uint i = gl_GlobalInvocationID.x; i < total; i += gl_NumWorkGroups.x * 256u) {
    const uint col = i % pc.N, row = (i / pc.N) % pc.M, bz = i / (pc.N * pc.M);
    float s = 0.0;
    for (uint p = 0; p < pc.splits; ++p) s += part.v[p * total + i];
    const uint addr = pc.off_c + (bz * pc.sc_b + row * pc.sc_m + col * pc.sc_n) * ec;
    float v = pc.alpha * s;
    if (pc.beta != 0.0) v += pc.beta * tc_load(pc.dt_c, addr);
    if (pc.has_bias != 0u) v += tbias_load(pc.dt_bias, pc.off_bias + col * pc.s_bias * eg);
    tc_store(pc.dt_c, addr, activate(v));
  }
}
