#version 450
// fill: writes one element bit pattern (computed on the host, so rounding matches
// porta/dtype.h exactly) at every element of a strided rank-4 view.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { uint w[]; } dst;
PORTA_TENSOR_IO(dst)
layout(push_constant) uniform PC {
  uvec4 shape;
  uvec4 strides;
  uint offset, n, dt, bits;
} pc;

void main() {
  const uint es = dt_size(pc.dt);
  for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += gl_NumWorkGroups.x * 256u) {
    uint r = i;
    const uint i3 = r % pc.shape.w; r /= pc.shape.w;
    const uint i2 = r % pc.shape.z; r /= pc.shape.z;
    const uint i1 = r % pc.shape.y;
    const uint i0 = r / pc.shape.y;
    const uint e = i0 * pc.strides.x + i1 * pc.strides.y + i2 * pc.strides.z + i3 * pc.strides.w;
    dst_store_bits(pc.dt, pc.offset + e * es, pc.bits);
  }
}
