#include "porta/dtype.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace porta {

const char* dtype_name(DType t) noexcept {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "i8";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

namespace {
template <typename I>
I saturate(double v) {
  if (std::isnan(v)) return 0;
  v = std::nearbyint(v);
  if (v <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (v >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}
}  // namespace

double load_as_double(DType t, const void* base, size_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(base)[i];
    case DType::f16: return f16_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::i8: return static_cast<const int8_t*>(base)[i];
    case DType::i32: return static_cast<const int32_t*>(base)[i];
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(base)[i]);
  }
  return 0;
}

void store_from_double(DType t, void* base, size_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(base)[i] = static_cast<float>(v); break;
    case DType::f16: static_cast<uint16_t*>(base)[i] = float_to_f16(f32_round_to_odd(v)); break;
    case DType::bf16: static_cast<uint16_t*>(base)[i] = float_to_bf16(f32_round_to_odd(v)); break;
    case DType::i8: static_cast<int8_t*>(base)[i] = saturate<int8_t>(v); break;
    case DType::i32: static_cast<int32_t*>(base)[i] = saturate<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(base)[i] = saturate<int64_t>(v); break;
  }
}

void convert_host(DType from, const void* src, DType to, void* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) store_from_double(to, dst, i, load_as_double(from, src, i));
}

}  // namespace porta
