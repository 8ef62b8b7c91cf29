// Quantized weights (porta/quant.h) in the canonical layout, read from uint words: push
// constants (quant_push.h), bindings, and decoders of the four formats with integer ops
// (no 8/16-bit storage or arithmetic feature needed: any Vulkan 1.1 driver).
// Spec constant 0 is the format: 0 int8, 1 int4, 2 int4_zp, 3 fp8_e4m3fn.
#ifndef PORTA_QUANT_COMMON_GLSL
#define PORTA_QUANT_COMMON_GLSL
#include "common.glsl"
#include "quant_push.h"
#define PORTA_PUSH_U(n) uint n;
#define PORTA_PUSH_F(n) float n;
layout(push_constant) uniform PC { PORTA_QUANT_PUSH(PORTA_PUSH_U, PORTA_PUSH_F) } pc;
layout(constant_id = 0) const uint QF = 0;

layout(std430, binding = 0) buffer Q { uint w[]; } tq;      // codes
layout(std430, binding = 1) buffer S { uint w[]; } ts;      // scales
layout(std430, binding = 2) buffer Z { uint w[]; } tz;      // zeros (f16)
layout(std430, binding = 3) buffer P { uint w[]; } tp;      // perm (i32)
layout(std430, binding = 4) buffer A { uint w[]; } ta;      // activations / ids / dense input
layout(std430, binding = 5) buffer C { uint w[]; } tc;      // output
layout(std430, binding = 6) buffer Bias { uint w[]; } tbias;
PORTA_TENSOR_IO(tq)
PORTA_TENSOR_IO(ts)
PORTA_TENSOR_IO(tz)
PORTA_TENSOR_IO(ta)
PORTA_TENSOR_IO(tc)
PORTA_TENSOR_IO(tbias)

const uint F_BIAS = 1u, F_PERM = 2u, F_IDS = 4u, F_TENSOR = 8u;

// E4M3FN: bias 7, subnormals m * 2^-9, 0x7f / 0xff NaN.
float fp8_to_f32(uint u) {
  const uint e = (u >> 3) & 15u, m = u & 7u;
  float v = e == 0u ? float(m) * 0.001953125 : uintBitsToFloat(((e + 120u) << 23) | (m << 20));
  if ((u & 0x7fu) == 0x7fu) v = uintBitsToFloat(0x7fc00000u);
  return (u & 0x80u) != 0u ? -v : v;
}

// Byte address of element j's code in weight row n (rows past this dispatch's row0 base).
uint q_row(uint n) { return pc.off_q + n * pc.rs_q; }

// Value of a code before the zero point and scale: int8 as is, int4 code - 8, int4_zp the
// raw nibble, fp8 decoded. `byte` holds the element's byte (its nibble chosen by j & 1).
float q_value(uint byte, uint j) {
  if (QF == 0u) return float(bitfieldExtract(int(byte), 0, 8));
  if (QF == 3u) return fp8_to_f32(byte);
  const float q = float((j & 1u) != 0u ? byte >> 4 : byte & 15u);
  return QF == 1u ? q - 8.0 : q;
}

float q_code1(uint row, uint j) {
  const uint addr = row + (QF == 1u || QF == 2u ? j >> 1 : j);
  return q_value((tq.w[addr >> 2] >> ((addr & 3u) * 8u)) & 0xffu, j);
}

// 32 bits starting at byte `addr` (any alignment; reads only words holding those bytes).
uint q_word(uint addr) {
  const uint sh = (addr & 3u) * 8u, w0 = tq.w[addr >> 2];
  return sh == 0u ? w0 : (w0 >> sh) | (tq.w[(addr >> 2) + 1u] << (32u - sh));
}

// Elements j .. j + 7 (j even) as two vec4.
void q_code8(uint row, uint j, out vec4 lo, out vec4 hi) {
  if (QF == 1u || QF == 2u) {
    const uint b = q_word(row + (j >> 1));
    const vec4 l = vec4(b & 15u, (b >> 4) & 15u, (b >> 8) & 15u, (b >> 12) & 15u);
    const vec4 h = vec4((b >> 16) & 15u, (b >> 20) & 15u, (b >> 24) & 15u, b >> 28);
    const float o = QF == 1u ? 8.0 : 0.0;
    lo = l - o;
    hi = h - o;
    return;
  }
  const uint w0 = q_word(row + j), w1 = q_word(row + j + 4u);
  if (QF == 0u) {
    lo = vec4(bitfieldExtract(int(w0), 0, 8), bitfieldExtract(int(w0), 8, 8), bitfieldExtract(int(w0), 16, 8),
              bitfieldExtract(int(w0), 24, 8));
    hi = vec4(bitfieldExtract(int(w1), 0, 8), bitfieldExtract(int(w1), 8, 8), bitfieldExtract(int(w1), 16, 8),
              bitfieldExtract(int(w1), 24, 8));
  } else {
    lo = vec4(fp8_to_f32(w0 & 0xffu), fp8_to_f32((w0 >> 8) & 0xffu), fp8_to_f32((w0 >> 16) & 0xffu),
              fp8_to_f32(w0 >> 24));
    hi = vec4(fp8_to_f32(w1 & 0xffu), fp8_to_f32((w1 >> 8) & 0xffu), fp8_to_f32((w1 >> 16) & 0xffu),
              fp8_to_f32(w1 >> 24));
  }
}

float q_scale(uint n, uint g) { return ts_load(pc.dt_s, pc.off_s + (n * pc.rs_s + g * pc.cs_s) * dt_size(pc.dt_s)); }

float q_zero(uint n, uint g) {
  if (QF != 2u) return 0.0;
  return tz_load(DT_F16, pc.off_z + (n * pc.rs_z + g * pc.cs_z) * 2u);
}

// perm[j] clamped to [0, K): device-resident values are never trusted.
uint q_perm(uint j) {
  const int p = int(tp.w[(pc.off_perm >> 2) + j * pc.s_perm]);
  return uint(clamp(p, 0, int(pc.K) - 1));
}
#endif
