#version 450
// Rotary position embedding on [B, H, S, D], NeoX (halves) or GPT-J (pairs) style.
// Angles are taken modulo one turn in exact integer arithmetic: the host gives each
// frequency / 2pi as a 64-bit binary fraction, pos * fraction mod 1 is two 32x32 products,
// so large positions keep full accuracy on any driver (no doubles, no fma needed).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { uint w[]; } tx;
layout(std430, binding = 1) buffer P { uint w[]; } tp;
layout(std430, binding = 2) buffer F { uint w[]; } tf;  // [half] x (hi, lo)
layout(std430, binding = 3) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(tx)
PORTA_TENSOR_IO(tp)
PORTA_TENSOR_IO(to)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_ROPE_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

void main() {
  const uint B = pc.shape.x, H = pc.shape.y, S = pc.shape.z, D = pc.shape.w;
  const uint per_row = D - pc.half_rot;  // half_rot pairs, then D - 2*half_rot copied
  const uint total = B * H * S * per_row;
  const uint ex = dt_size(pc.dt_x), eo = dt_size(pc.dt_o);
  // (b, h, s, j) advances by the grid stride with carries: no division per element.
  const uvec4 rshape = uvec4(B, H, S, per_row);
  const uint stride = gl_NumWorkGroups.x * 256u;
  uvec4 idx = index4(gl_GlobalInvocationID.x, rshape);
  const uvec4 step = index4(stride, rshape);
  for (uint i = gl_GlobalInvocationID.x; i < total; i += stride, advance4(idx, step, rshape)) {
    const uint b = idx.x, h = idx.y, s = idx.z, j = idx.w;
    const uint bx = pc.off_x + (b * pc.sx.x + h * pc.sx.y + s * pc.sx.z) * ex;
    const uint bo = pc.off_o + (b * pc.so.x + h * pc.so.y + s * pc.so.z) * eo;
    if (j >= pc.half_rot) {  // past rotary_dim: passes through
      const uint d = j + pc.half_rot;
      to_store_bits(pc.dt_o, bo + d * pc.so.w * eo, tx_bits(pc.dt_x, bx + d * pc.sx.w * ex));
      continue;
    }
    const int pos = int(tp_bits(DT_I32, pc.off_p + (b * pc.sp_b + s * pc.sp_s) * 4u));
    const uint apos = uint(abs(pos));
    const uint fhi = tf.w[2u * j], flo = tf.w[2u * j + 1u];
    uint p_hi, p_lo, q_hi, q_lo;
    umulExtended(apos, fhi, p_hi, p_lo);
    umulExtended(apos, flo, q_hi, q_lo);
    const uint turn = p_lo + q_hi;  // fraction of a turn, 32 bits (wraps mod 1)
    float ang = float(int(turn)) * 1.4629180792671596e-09;  // 2pi / 2^32, angle in [-pi, pi)
    if (pos < 0) ang = -ang;
    const float c = cos(ang), sn = sin(ang);
    const uint i0 = pc.neox != 0u ? j : 2u * j;
    const uint i1 = pc.neox != 0u ? j + pc.half_rot : 2u * j + 1u;
    const float x0 = tx_load(pc.dt_x, bx + i0 * pc.sx.w * ex);
    const float x1 = tx_load(pc.dt_x, bx + i1 * pc.sx.w * ex);
    to_store(pc.dt_o, bo + i0 * pc.so.w * eo, x0 * c - x1 * sn);
    to_store(pc.dt_o, bo + i1 * pc.so.w * eo, x1 * c + x0 * sn);
  }
}
