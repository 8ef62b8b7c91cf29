#version 450
// fill: writes one element bit pattern (computed on the host, so rounding matches
// porta/dtype.h exactly) at every element of a strided rank-4 view.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { uint w[]; } dst;
PORTA_TENSOR_IO(dst)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_FILL_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

void main() {
  const uint es = dt_size(pc.dt);
  const uint stride = gl_NumWorkGroups.x * 256u;
  if (pc.contiguous != 0u) {
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) dst_store_bits(pc.dt, pc.offset + i * es, pc.bits);
    return;
  }
  uvec4 idx = index4(gl_GlobalInvocationID.x, pc.shape);  // advanced with carries, no division per element
  const uvec4 step = index4(stride, pc.shape);
  for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
    const uint e = idx.x * pc.strides.x + idx.y * pc.strides.y + idx.z * pc.strides.z + idx.w * pc.strides.w;
    dst_store_bits(pc.dt, pc.offset + e * es, pc.bits);
    advance4(idx, step, pc.shape);
  }
}
