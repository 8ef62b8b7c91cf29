// Shared by every porta compute shader: dtype codes and conversions done with integer ops
// (so every driver rounds the same way, and f16/bf16/i8 need no 16/8-bit storage feature),
// and PORTA_TENSOR_IO(B), which gives a `uint w[]` binding typed loads and stores by byte address.
#ifndef PORTA_COMMON_GLSL
#define PORTA_COMMON_GLSL

// Same codes as porta::DType.
#define DT_F32 0u
#define DT_F16 1u
#define DT_BF16 2u
#define DT_I8 3u
#define DT_I32 4u

uint dt_size(uint dt) { return dt == DT_F32 || dt == DT_I32 ? 4u : (dt == DT_I8 ? 1u : 2u); }

float f16_to_f32(uint h) {
  const uint s = (h & 0x8000u) << 16;
  const uint e = (h >> 10) & 0x1fu;
  const uint m = h & 0x3ffu;
  if (e == 0x1fu) return uintBitsToFloat(s | 0x7f800000u | (m << 13));
  if (e == 0u) {
    const float v = float(m) * 5.9604644775390625e-8;
    return s != 0u ? -v : v;
  }
  return uintBitsToFloat(s | ((e + 112u) << 23) | (m << 13));
}

// Round to nearest even, overflow to inf, NaN stays NaN (as porta/dtype.h).
uint f32_to_f16(float f) {
  uint u = floatBitsToUint(f);
  const uint sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return sign | 0x7e00u;
  if (u >= 0x477ff000u) return sign | 0x7c00u;
  if (u < 0x38800000u) {
    // Adding 0.5 puts the f16 subnormal grid (2^-24) at the f32 ulp, so the add rounds for us.
    const float a = uintBitsToFloat(u) + 0.5;
    return sign | ((floatBitsToUint(a) - 0x3f000000u) & 0xffffu);
  }
  u += 0xc8000fffu + ((u >> 13) & 1u);
  return sign | ((u >> 13) & 0xffffu);
}

float bf16_to_f32(uint h) { return uintBitsToFloat(h << 16); }

uint f32_to_bf16(float f) {
  uint u = floatBitsToUint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) & 0xffffu;
  u += 0x7fffu + ((u >> 16) & 1u);
  return u >> 16;
}

// f32 -> integer: round half to even, saturate, NaN -> 0 (as porta/dtype.h).
int f32_to_int_sat(float v, int lo, int hi) {
  if (isnan(v)) return 0;
  const float r = roundEven(v);
  if (r <= float(lo)) return lo;
  if (r >= float(hi)) return hi;
  return int(r);
}

// i32 -> f32 rounded to odd when `to_odd` (the value goes on to f16/bf16, which must see
// one rounding of the integer, not two), else to nearest.
float i32_to_f32(int i, bool to_odd) {
  const uint a = uint(abs(i));  // abs(INT_MIN) wraps to 2^31, which is right as uint
  if (!to_odd || a < (1u << 24)) return float(i);
  const int sh = findMSB(a) - 23;
  const uint t = (a >> sh) << sh;
  float f = float(t);  // exact: 24 significant bits
  if (t != a) f = uintBitsToFloat(floatBitsToUint(f) | 1u);
  return i < 0 ? -f : f;
}

// Element bits <-> f32 for the float dtypes (i8/i32 as their integer value).
float bits_to_value(uint dt, uint bits) {
  if (dt == DT_F32) return uintBitsToFloat(bits);
  if (dt == DT_F16) return f16_to_f32(bits);
  if (dt == DT_BF16) return bf16_to_f32(bits);
  if (dt == DT_I8) return float(bitfieldExtract(int(bits), 0, 8));
  return float(int(bits));
}
uint value_to_bits(uint dt, float v) {
  if (dt == DT_F32) return floatBitsToUint(v);
  if (dt == DT_F16) return f32_to_f16(v);
  if (dt == DT_BF16) return f32_to_bf16(v);
  if (dt == DT_I8) return uint(f32_to_int_sat(v, -128, 127)) & 0xffu;
  return uint(f32_to_int_sat(v, -2147483648, 2147483647));
}

// 4-d index of flat element i of a row-major shape (divisions: once per invocation).
uvec4 index4(uint i, uvec4 shape) {
  const uint i3 = i % shape.w;
  i /= shape.w;
  const uint i2 = i % shape.z;
  i /= shape.z;
  return uvec4(i / shape.y, i % shape.y, i2, i3);
}

// idx += step in the mixed radix of `shape`, step given as its own 4-d index (each digit
// below its extent, so one conditional subtraction per digit carries). Grid-stride loops
// advance by the grid size this way instead of dividing per element: integer division is
// scalarized on CPU drivers (lavapipe), tens of cycles per lane.
void advance4(inout uvec4 idx, uvec4 step, uvec4 shape) {
  idx.w += step.w;
  uint c = idx.w >= shape.w ? 1u : 0u;
  idx.w -= c * shape.w;
  idx.z += step.z + c;
  c = idx.z >= shape.z ? 1u : 0u;
  idx.z -= c * shape.z;
  idx.y += step.y + c;
  c = idx.y >= shape.y ? 1u : 0u;
  idx.y -= c * shape.y;
  idx.x += step.x + c;
}

// Typed access to binding B (declared `buffer ... { uint w[]; } B;`) by byte address.
// Sub-word stores go through atomics, so neighbouring elements written by other
// invocations at the same time are kept.
#define PORTA_TENSOR_IO(B)                                                                   \
  uint B##_bits(uint dt, uint addr) {                                                        \
    const uint word = B.w[addr >> 2];                                                        \
    if (dt == DT_F32 || dt == DT_I32) return word;                                           \
    if (dt == DT_I8) return (word >> ((addr & 3u) * 8u)) & 0xffu;                            \
    return (word >> ((addr & 2u) * 8u)) & 0xffffu;                                           \
  }                                                                                          \
  float B##_load(uint dt, uint addr) { return bits_to_value(dt, B##_bits(dt, addr)); }       \
  void B##_store_bits(uint dt, uint addr, uint bits) {                                       \
    if (dt == DT_F32 || dt == DT_I32) {                                                      \
      B.w[addr >> 2] = bits;                                                                 \
      return;                                                                                \
    }                                                                                        \
    const uint sh = dt == DT_I8 ? (addr & 3u) * 8u : (addr & 2u) * 8u;                       \
    const uint mask = (dt == DT_I8 ? 0xffu : 0xffffu) << sh;                                 \
    atomicAnd(B.w[addr >> 2], ~mask);                                                        \
    atomicOr(B.w[addr >> 2], (bits << sh) & mask);                                           \
  }                                                                                          \
  void B##_store(uint dt, uint addr, float v) { B##_store_bits(dt, addr, value_to_bits(dt, v)); }

#endif
