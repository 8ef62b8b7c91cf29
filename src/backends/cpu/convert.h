// Row converters between the float storage dtypes (f32, f16, bf16) and f32, vectorised
// where the CPU allows (F16C for f16, shifts for bf16) and chosen once by CPUID.
// Any cpu kernel may use them; they are the only place that knows the SIMD forms.
#pragma once

#include <cstdint>

#include "porta/dtype.h"

namespace porta::cpu {

/// dst[i] = float(src[i]) for i < n. src is contiguous of dtype t (f32, f16 or bf16);
/// src and dst must not overlap. Thread-safe.
void convert_row_to_f32(DType t, const void* src, float* dst, int64_t n);

/// dst[i] = t(src[i]) for i < n, rounding to nearest even (as porta/dtype.h does; NaN
/// stays NaN). dst is contiguous of dtype t (f32, f16 or bf16). Thread-safe.
void convert_row_from_f32(DType t, const float* src, void* dst, int64_t n);

namespace detail {
using RowToF32 = void (*)(DType, const void*, float*, int64_t);
using RowFromF32 = void (*)(DType, const float*, void*, int64_t);
#if defined(PORTA_CPU_X86)
void convert_row_to_f32_avx2(DType t, const void* src, float* dst, int64_t n);    // convert_avx2.cpp
void convert_row_from_f32_avx2(DType t, const float* src, void* dst, int64_t n);  // convert_avx2.cpp
#endif
}  // namespace detail

}  // namespace porta::cpu
