#version 450
// copy (bit-exact, so NaN payloads survive) and cast between any two dtypes through f32,
// which holds every float source exactly; i32 sources are rounded once (to odd when they go
// on to f16/bf16), float -> int rounds half to even, saturates, NaN -> 0.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer A { uint w[]; } ta;
layout(std430, binding = 1) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(ta)
PORTA_TENSOR_IO(to)
layout(push_constant) uniform PC {
  uvec4 shape;
  uvec4 so, sa;
  uint off_o, off_a, n, dt_o, dt_a;
} pc;

void main() {
  const uint ea = dt_size(pc.dt_a), eo = dt_size(pc.dt_o);
  const bool copy = pc.dt_a == pc.dt_o;
  const bool to_half = pc.dt_o == DT_F16 || pc.dt_o == DT_BF16;
  for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += gl_NumWorkGroups.x * 256u) {
    uint r = i;
    const uint i3 = r % pc.shape.w; r /= pc.shape.w;
    const uint i2 = r % pc.shape.z; r /= pc.shape.z;
    const uint i1 = r % pc.shape.y;
    const uint i0 = r / pc.shape.y;
    const uint ia = i0 * pc.sa.x + i1 * pc.sa.y + i2 * pc.sa.z + i3 * pc.sa.w;
    const uint bits = ta_bits(pc.dt_a, pc.off_a + ia * ea);
    uint out_bits;
    if (copy) {
      out_bits = bits;
    } else {
      const float v = pc.dt_a == DT_I32 ? i32_to_f32(int(bits), to_half) : bits_to_value(pc.dt_a, bits);
      out_bits = value_to_bits(pc.dt_o, v);
    }
    const uint io = i0 * pc.so.x + i1 * pc.so.y + i2 * pc.so.z + i3 * pc.so.w;
    to_store_bits(pc.dt_o, pc.off_o + io * eo, out_bits);
  }
}
