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
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_CAST_COPY_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

uint convert(uint bits, bool copy, bool to_half) {
  if (copy) return bits;
  const float v = pc.dt_a == DT_I32 ? i32_to_f32(int(bits), to_half) : bits_to_value(pc.dt_a, bits);
  return value_to_bits(pc.dt_o, v);
}

void main() {
  const uint ea = dt_size(pc.dt_a), eo = dt_size(pc.dt_o);
  const bool copy = pc.dt_a == pc.dt_o;
  const bool to_half = pc.dt_o == DT_F16 || pc.dt_o == DT_BF16;
  const uint stride = gl_NumWorkGroups.x * 256u;
  if (pc.contiguous != 0u) {
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride)
      to_store_bits(pc.dt_o, pc.off_o + i * eo, convert(ta_bits(pc.dt_a, pc.off_a + i * ea), copy, to_half));
    return;
  }
  // Strided: the 4-d index advances by the grid stride with carries (no division per element).
  uvec4 idx = index4(gl_GlobalInvocationID.x, pc.shape);
  const uvec4 step = index4(stride, pc.shape);
  for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
    const uint ia = idx.x * pc.sa.x + idx.y * pc.sa.y + idx.z * pc.sa.z + idx.w * pc.sa.w;
    const uint io = idx.x * pc.so.x + idx.y * pc.so.y + idx.z * pc.so.z + idx.w * pc.so.w;
    to_store_bits(pc.dt_o, pc.off_o + io * eo, convert(ta_bits(pc.dt_a, pc.off_a + ia * ea), copy, to_half));
    advance4(idx, step, pc.shape);
  }
}
