// Scalar load/store of float-like dtypes as f32, for kernels that convert per element.
#pragma once

#include <cstdint>

#include "porta/dtype.h"

namespace porta::cpu {

inline float load_f32(DType t, const void* p, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f16: return f16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::i8: return static_cast<float>(static_cast<const int8_t*>(p)[i]);
    case DType::i32: return static_cast<float>(static_cast<const int32_t*>(p)[i]);
    case DType::i64: return static_cast<float>(static_cast<const int64_t*>(p)[i]);
  }
  return 0.0f;
}

inline void store_f32(DType t, void* p, int64_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = v; break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = float_to_f16(v); break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = float_to_bf16(v); break;
    default: store_from_double(t, p, static_cast<size_t>(i), static_cast<double>(v)); break;
  }
}

}  // namespace porta::cpu
