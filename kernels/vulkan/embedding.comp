#version 450
// embedding: out[n, :] = table[ids[n], :], bit-exact; ids outside [0, V) give a zero row.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer T { uint w[]; } tt;
layout(std430, binding = 1) buffer I { uint w[]; } ti;
layout(std430, binding = 2) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(tt)
PORTA_TENSOR_IO(ti)
PORTA_TENSOR_IO(to)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_EMBEDDING_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

void main() {
  const uint es = dt_size(pc.dt);
  const uint total = pc.N * pc.D;
  for (uint i = gl_GlobalInvocationID.x; i < total; i += gl_NumWorkGroups.x * 256u) {
    const uint n = i / pc.D, d = i % pc.D;
    const int id = int(ti_bits(DT_I32, pc.off_ids + n * pc.s_ids * 4u));
    uint bits = 0u;
    if (id >= 0 && uint(id) < pc.V) bits = tt_bits(pc.dt, pc.off_t + (uint(id) * pc.st_v + d * pc.st_d) * es);
    to_store_bits(pc.dt, pc.off_o + (n * pc.so_n + d * pc.so_d) * es, bits);
  }
}
