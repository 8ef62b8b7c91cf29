// Shared by the serving shaders: fp8 e4m3fn conversions and the push-constant block of the
// shader that defines PAGED_PUSH (one of the lists of paged_push.h) before including this.
#ifndef PORTA_PAGED_COMMON_GLSL
#define PORTA_PAGED_COMMON_GLSL
#include "paged_push.h"
#define PORTA_PUSH_U(n) uint n;
#define PORTA_PUSH_F(n) float n;
layout(push_constant) uniform PC { PAGED_PUSH(PORTA_PUSH_U, PORTA_PUSH_F) } pc;

const uint KF_PLAIN = 0u;
const uint KF_INT8 = 1u;
const uint KF_FP8 = 2u;

// An fp8 e4m3fn code (low 8 bits) as f32; S.1111.111 is NaN (no infinities).
float fp8_to_f32(uint c) {
  const uint e = (c >> 3) & 15u, m = c & 7u;
  float v = e == 0u ? float(m) * 0.001953125 : ldexp(1.0 + float(m) * 0.125, int(e) - 7);
  if ((c & 0x7fu) == 0x7fu) v = uintBitsToFloat(0x7fc00000u);
  return (c & 0x80u) != 0u ? -v : v;
}

// f32 to fp8 e4m3fn, round to nearest even, saturating to +-448 (NaN: 0x7f).
uint f32_to_fp8(float x) {
  if (isnan(x)) return 0x7fu;
  const uint sign = (floatBitsToUint(x) >> 24) & 0x80u;
  const float a = min(abs(x), 448.0);
  if (a < 0.015625) return sign | uint(roundEven(a * 512.0));  // subnormal grid 2^-9 (8: the first normal)
  uint u = floatBitsToUint(a);
  u += 0x7ffffu + ((u >> 20) & 1u);  // round the mantissa to 3 bits, ties to even
  return sign | ((((u >> 23) - 120u) << 3) | ((u >> 20) & 7u));
}
#endif
