// Inner kernels of the cpu GEMM, chosen once by CPUID: an AVX2/FMA set and a
// portable set with the same contracts. Tile sizes are data (GemmTiles), not literals.
#pragma once

#include <cstdint>

#include "porta/dtype.h"

namespace porta::cpu {

/// Register tile of the micro-kernel and cache blocking (BLIS terms).
struct GemmTiles {
  int mr;      // rows of the register tile
  int nr;      // columns of the register tile
  int64_t kc;  // depth of a packed panel (A block + B panel stay in L2/L3)
  int64_t mc;  // rows of a packed A block (fits L2 with a B micro-panel)
  int64_t nc;  // columns of a packed B panel (fits L3)
};

struct GemmKernels {
  const char* name;
  GemmTiles tiles;
  /// tile[mr x nr] (row-major, ld nr) = A panel (kc x mr, k-major) * B panel (kc x nr, k-major).
  void (*micro)(int64_t kc, const float* a, const float* b, float* tile);
  /// Full mr x nr tile into f32 C rows (row stride ldc): c = alpha*tile + beta*c, where
  /// c is not read when beta == 0 (it may hold NaN).
  void (*merge)(const float* tile, float* c, int64_t ldc, float alpha, float beta);
  /// dst[0..n) = src[0..n) converted from t to f32 (contiguous).
  void (*to_f32)(DType t, const void* src, float* dst, int64_t n);
  /// sum_i a[i] * f32(b[i]) for i < n, b contiguous of dtype t (small-M path).
  float (*dot)(const float* a, DType t, const void* b, int64_t n);
  /// y[0..n) += alpha * f32(x[0..n)), x contiguous of dtype t (small-M path).
  void (*axpy)(float alpha, DType t, const void* x, float* y, int64_t n);
};

const GemmKernels& gemm_kernels_generic();
#if defined(PORTA_CPU_X86)
const GemmKernels& gemm_kernels_avx2();
#endif

/// The best set this CPU runs.
const GemmKernels& gemm_kernels();

}  // namespace porta::cpu
