#version 450
// Bit-exact copy of a dense byte range whose offsets and length are multiples of 16 bytes
// (any dtype): one 16-byte load and store per element step. CPU drivers (lavapipe) access
// storage buffers a lane at a time, so four words per access is four times fewer accesses
// than cast_copy's word per element.
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A { uvec4 v[]; } ta;
layout(std430, binding = 1) writeonly buffer O { uvec4 v[]; } to;
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_COPY_VEC4_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

void main() {
  const uint stride = gl_NumWorkGroups.x * 256u;
  for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) to.v[pc.off_o + i] = ta.v[pc.off_a + i];
}
