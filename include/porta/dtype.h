// Element types and host-side conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace porta {

/// i64 is for indices (kv_cache_write slots, copy_blocks mappings); float ops do not take it.
enum class DType : uint8_t { f32, f16, bf16, i8, i32, i64 };

constexpr int kNumDTypes = 6;

/// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::i8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f16 || t == DType::bf16; }

/// "f32", "f16", "bf16", "i8", "i32", "i64".
const char* dtype_name(DType t) noexcept;

/// Bit set of dtypes, used in capabilities.
constexpr uint32_t dtype_bit(DType t) { return 1u << static_cast<unsigned>(t); }

// ---- scalar conversions (IEEE binary16 and bfloat16, round to nearest even) ----

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bf16_to_float(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0) return bits_to_float(sign);
    // subnormal: value = man * 2^-24
    float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));
}

inline uint16_t float_to_f16(float f) {
  uint32_t u = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN
  if (u >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow to inf
  if (u < 0x38800000u) {                                               // subnormal or zero in f16
    // scale to the f16 subnormal grid with round-to-nearest-even via float addition
    float a = bits_to_float(u) + 0.5f;  // 0.5 = 2^-1: aligns mantissa so ulp is 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(float_to_bits(a) - 0x3f000000u));
  }
  const uint32_t mant_odd = (u >> 13) & 1u;
  u += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  return static_cast<uint16_t>(sign | static_cast<uint16_t>(u >> 13));
}

/// double -> float rounded to odd (truncate; set the last bit when inexact). Rounding that
/// float to f16 or bf16 (2+ fewer mantissa bits) then equals rounding the double directly,
/// so doubles narrow to half formats with exactly one rounding.
inline float f32_round_to_odd(double v) {
  float f = static_cast<float>(v);
  if (!(v == v) || static_cast<double>(f) == v) return f;  // NaN or exact
  if (f > 3.4028234663852886e38f || f < -3.4028234663852886e38f) return f;  // past f32: inf either way
  if ((f < 0 ? -static_cast<double>(f) : static_cast<double>(f)) > (v < 0 ? -v : v))
    f = bits_to_float(float_to_bits(f) - 1u);  // one ulp toward zero: truncation
  return bits_to_float(float_to_bits(f) | 1u);
}

/// Converts n elements between any two dtypes on the host. Float → integer
/// rounds to nearest and saturates; NaN becomes 0.
void convert_host(DType from, const void* src, DType to, void* dst, size_t n);

/// One element at index i of a host array of dtype t, as double.
double load_as_double(DType t, const void* base, size_t i);
/// Stores v (rounded/saturated) to element i of a host array of dtype t.
void store_from_double(DType t, void* base, size_t i, double v);

}  // namespace porta
