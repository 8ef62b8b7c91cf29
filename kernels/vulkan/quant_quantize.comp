#version 450
// quantize (rules of porta/quant.h; the scale is rounded to its dtype before the codes are
// computed with it). The dense weight is "a" ([N, K], any float dtype and strides). MODE 0:
// one invocation per (group, row) writes the scale (zero) and the group's codes; MODE 1
// (per tensor): each row's scale into the f32 scratch "c"; MODE 2: one workgroup reduces
// those to the tensor's rounded scale. Code bytes are merged into their words with atomics
// (rows need not start on a word).
#include "quant_common.glsl"
layout(constant_id = 1) const uint MODE = 0;
layout(local_size_x = 64) in;
shared float red[64];

float w_at(uint n, uint j) { return ta_load(pc.dt_a, pc.off_a + (n * pc.rs_a + j * pc.cs_a) * dt_size(pc.dt_a)); }

float round_to(uint dt, float v) { return bits_to_value(dt, value_to_bits(dt, v)); }

// f (already rounded) as an int in [lo, hi]; NaN gives lo.
int to_code(float f, int lo, int hi) {
  if (!(f >= float(lo))) return lo;
  if (!(f <= float(hi))) return hi;
  return int(f);
}

// Round to nearest even on the E4M3FN grid, saturating to +-448; NaN -> 0x7f.
uint f32_to_fp8(float v) {
  if (isnan(v)) return 0x7fu;
  const uint sign = (floatBitsToUint(v) >> 24) & 0x80u;
  const float a = abs(v);
  if (a >= 448.0) return sign | 0x7eu;
  const int e = int((floatBitsToUint(a) >> 23) & 255u) - 127;
  uint code;
  if (e < -6) {
    code = uint(roundEven(a * 512.0));  // multiples of 2^-9; 8 is 2^-6, the first normal
  } else {
    const uint q = uint(roundEven(ldexp(a, 3 - e)));  // 8 .. 16; 16 carries into the next binade
    code = uint((e + 7) << 3) + q - 8u;
  }
  return sign | min(code, 0x7eu);
}

// The format's scale (unrounded) and the minimum (int4_zp) of row n, elements [j0, j1).
float scale_rule(uint n, uint j0, uint j1, out float lo) {
  float amax = 0.0, smax = 0.0, mn = 0.0, mx = 0.0;
  for (uint j = j0; j < j1; ++j) {
    const float v = w_at(n, j);
    if (abs(v) > amax) {
      amax = abs(v);
      smax = v;
    }
    mn = min(mn, v);
    mx = max(mx, v);
  }
  lo = mn;
  // The divisors are scaled by pc.alpha (1.0, set by the host): a constant divisor lets the
  // compiler use x * (1 / c), which rounds differently from x / c (lavapipe does).
  if (QF == 0u) return amax / (127.0 * pc.alpha);
  if (QF == 1u) return smax / (-8.0 * pc.alpha);
  if (QF == 2u) return (mx - mn) / (15.0 * pc.alpha);
  return amax / (448.0 * pc.alpha);
}

void store_code(uint addr, uint byte) { tq_store_bits(DT_I8, addr, byte); }

void main() {
  const uint es = dt_size(pc.dt_s);
  if (MODE == 1u) {
    const uint n = gl_GlobalInvocationID.x;
    if (n >= pc.N) return;
    float lo;
    tc.w[(pc.off_c >> 2) + n] = floatBitsToUint(scale_rule(n, 0u, pc.K, lo));
    return;
  }
  if (MODE == 2u) {
    const uint t = gl_LocalInvocationID.x;
    float m = 0.0;
    for (uint n = t; n < pc.N; n += 64u) m = max(m, uintBitsToFloat(tc.w[(pc.off_c >> 2) + n]));
    red[t] = m;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
      if (t < s) red[t] = max(red[t], red[t + s]);
      barrier();
    }
    if (t == 0u) ts_store(pc.dt_s, pc.off_s, round_to(pc.dt_s, red[0]));
    return;
  }
  const uint G = (pc.K + pc.group - 1u) / pc.group;
  const uint g = gl_GlobalInvocationID.x, n = pc.row0 + gl_WorkGroupID.y;
  if (g >= G) return;
  const uint j0 = g * pc.group, j1 = min(pc.K, j0 + pc.group);
  float d, lo = 0.0;
  if ((pc.flags & F_TENSOR) != 0u) {
    d = ts_load(pc.dt_s, pc.off_s);
  } else {
    d = round_to(pc.dt_s, scale_rule(n, j0, j1, lo));
    ts_store(pc.dt_s, pc.off_s + (n * pc.rs_s + g * pc.cs_s) * es, d);
  }
  const uint row = q_row(n);
  if (QF == 0u || QF == 3u) {
    for (uint j = j0; j < j1; ++j) {
      const float v = w_at(n, j);
      uint byte;
      if (QF == 0u)
        byte = d != 0.0 ? uint(to_code(roundEven(v / d), -127, 127)) & 0xffu : 0u;
      else
        byte = d != 0.0 ? f32_to_fp8(v / d) : 0u;
      store_code(row + j, byte);
    }
    return;
  }
  float z = 0.0;
  if (QF == 2u) {
    z = d != 0.0 ? clamp(roundEven(-lo / d), 0.0, 15.0) : 0.0;
    tz_store(DT_F16, pc.off_z + (n * pc.rs_z + g * pc.cs_z) * 2u, z);
  }
  // Two elements per byte; j0 is even (groups are multiples of 32; per-channel starts at 0).
  for (uint j = j0; j < j1; j += 2u) {
    uint byte = 0u;
    for (uint h = 0u; h < 2u && j + h < j1; ++h) {
      const float v = w_at(n, j + h);
      int q;
      if (QF == 1u)
        q = d != 0.0 ? to_code(trunc(v / d + 8.5), 0, 15) : 8;  // llama.cpp Q4_0
      else
        q = d != 0.0 ? to_code(roundEven(v / d) + z, 0, 15) : to_code(z, 0, 15);
      byte |= uint(q) << (4u * h);
    }
    store_code(row + (j >> 1), byte);
  }
}
