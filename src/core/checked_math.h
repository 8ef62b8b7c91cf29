// Overflow-checked 64-bit size arithmetic for shapes and byte counts.
#pragma once

#include <cstdint>
#include <string>

#include "porta/error.h"

namespace porta::detail {

inline int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw Error(Errc::invalid_argument, what + ": size overflows 64 bits (" + std::to_string(a) + " x " +
                                            std::to_string(b) + "); use smaller extents");
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw Error(Errc::invalid_argument, what + ": size overflows 64 bits; use smaller extents");
  return r;
}

}  // namespace porta::detail
