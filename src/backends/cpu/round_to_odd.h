// Narrowing a double to f16/bf16 with one rounding: first to f32 rounding to odd (inexact
// results get their last bit set), then to the half format by round-to-nearest-even. f32 keeps
// more than two extra bits over either half format, so the second rounding is the correct one.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace porta::cpu {

inline float f32_round_to_odd(double v) {
  float f = static_cast<float>(v);
  if (std::isnan(v) || static_cast<double>(f) == v) return f;
  if (std::isinf(f)) return std::copysign(std::numeric_limits<float>::max(), f);  // past f32: keep it finite
  if (std::fabs(static_cast<double>(f)) > std::fabs(v)) f = std::nextafter(f, 0.0f);  // truncate
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u |= 1u;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace porta::cpu
