// Inner loops of the cpu GEMM, one set per ISA (generic, AVX2/FMA, AVX-512), chosen once
// by CPUID. The driver (gemm.cpp) owns blocking, packing and threading; a kernel set owns
// only register-level work, so a new ISA is one file filling GemmMicrokernel.
//
// Packed layouts (gemm_pack.h): an A panel is kc x mr floats, k-major (a[k*mr + i]);
// a B panel is kc x nr floats, k-major (b[k*nr + j]). Panels are 64-byte aligned.
#pragma once

#include <cstdint>
#include <string>

#include "porta/dtype.h"
#include "porta/ops.h"

namespace porta::cpu {

/// Register tile and cache blocking (BLIS names). kc*nr floats of B stay in L1 while a
/// kc x mc block of A sits in L2; a kc x nc panel of B is shared by all threads in L3.
struct GemmTileSizes {
  int mr;      // rows of the register tile
  int nr;      // columns of the register tile
  int64_t kc;  // depth of packed panels
  int64_t mc;  // rows of a packed A block (multiple of mr)
  int64_t nc;  // columns of a packed B panel (multiple of nr)
};

struct GemmMicrokernel {
  const char* isa;
  GemmTileSizes tiles;

  /// Full mr x nr tile: c[i*ldc + j] = alpha * sum_k a[k*mr+i] * b[k*nr+j] + beta * c[i*ldc+j].
  /// c is f32 with unit column stride; it is not read when beta == 0 (it may hold NaN).
  void (*tile)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta);

  /// row[j] = act(row[j] + bias[j]) for j < n; bias may be null (then act(row[j])).
  void (*bias_act)(float* row, int64_t n, const float* bias, ops::Activation act);

  /// Small-M products that read B unpacked, converting on the fly (decode path):
  /// acc[m*ldacc + j] = sum_{k<K} a[m*lda + k] * B(k, j) for m < M, j < n, where B(k, j)
  /// is element (k*ldb + j) of b (rows contiguous, `rows`) or (j*ldb + k) (`cols`),
  /// of dtype bt (f32, f16, bf16). Any M >= 1; sized for M <= 16.
  void (*small_m_rows)(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b,
                       int64_t ldb, int64_t n, float* acc, int64_t ldacc);
  void (*small_m_cols)(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b,
                       int64_t ldb, int64_t n, float* acc, int64_t ldacc);

  /// B packing from unit-stride sources (gemm_pack.cpp picks these): columns [0, cols) of
  /// B into ceil(cols/nr) panels, dst[p*kc*nr + k*nr + j] = B(k, p*nr + j), zero past cols.
  /// B(k, j) is element (k*ld + j) of src (`rows`: rows contiguous) or (j*ld + k) (`cols`).
  void (*pack_b_rows)(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols, float* dst);
  void (*pack_b_cols)(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols, float* dst);
};

const GemmMicrokernel& gemm_microkernel_generic();  // gemm_microkernel_generic.cpp
#if defined(PORTA_CPU_X86)
const GemmMicrokernel& gemm_microkernel_avx2();    // gemm_microkernel_avx2.cpp
const GemmMicrokernel& gemm_microkernel_avx512();  // gemm_microkernel_avx512.cpp
#endif

/// Portable B packing, also the fallback of the ISA sets for dtypes or shapes they skip.
void gemm_pack_b_rows_generic(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols,
                              float* dst);
void gemm_pack_b_cols_generic(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols,
                              float* dst);

/// The best set this CPU runs (AVX-512 > AVX2+FMA+F16C > generic), chosen once on first
/// use. Thread-safe.
const GemmMicrokernel& gemm_microkernel();

/// Caps the set gemm_microkernel() may choose: "auto", "avx512bf16", "avx512vnni", "avx512",
/// "avx2" or "generic" (PORTA_CPU_GEMM_ISA, so one host can test every set). False for other
/// names. The three AVX-512 names keep the AVX-512 GEMM and pick the quantized int4 GEMV at
/// M = 1 (quant_kernels.h): AVX512-BF16 only, AVX512-VNNI digits only, or neither ("avx512");
/// "auto" lets quant_kernels() choose by vendor. Only effective before the first
/// gemm_microkernel() call.
bool set_gemm_isa_ceiling(const std::string& isa);
/// Whether the ceiling admits the AVX512-BF16 quantized GEMV ("auto" / "avx512bf16").
bool gemm_isa_bf16_allowed();
/// Whether the ceiling admits the AVX512-VNNI quantized GEMV ("auto" / "avx512vnni").
bool gemm_isa_vnni_allowed();

/// Scalar activation shared by the kernel sets' tails: gelu is the tanh form, silu x/(1+e^-x).
float gemm_activate(ops::Activation act, float v);

}  // namespace porta::cpu
