// Portable row converters and the CPUID dispatch of convert.h.
#include "backends/cpu/convert.h"
#include "backends/cpu/cpu_features.h"

#include <cstring>

namespace porta::cpu {
namespace {

void to_f32_generic(DType t, const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  switch (t) {
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_float(h[i]);
      return;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(h[i]);
      return;
    default: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
  }
}

void from_f32_generic(DType t, const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  switch (t) {
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) h[i] = float_to_f16(src[i]);
      return;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) h[i] = float_to_bf16(src[i]);
      return;
    default: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
  }
}

#if defined(PORTA_CPU_X86)
bool has_avx2_f16c() { return __builtin_cpu_supports("avx2") && cpu::cpu_has_f16c(); }
#endif

}  // namespace

void convert_row_to_f32(DType t, const void* src, float* dst, int64_t n) {
#if defined(PORTA_CPU_X86)
  static const detail::RowToF32 fn = has_avx2_f16c() ? &detail::convert_row_to_f32_avx2 : &to_f32_generic;
#else
  static const detail::RowToF32 fn = &to_f32_generic;
#endif
  fn(t, src, dst, n);
}

void convert_row_from_f32(DType t, const float* src, void* dst, int64_t n) {
#if defined(PORTA_CPU_X86)
  static const detail::RowFromF32 fn =
      has_avx2_f16c() ? &detail::convert_row_from_f32_avx2 : &from_f32_generic;
#else
  static const detail::RowFromF32 fn = &from_f32_generic;
#endif
  fn(t, src, dst, n);
}

}  // namespace porta::cpu
