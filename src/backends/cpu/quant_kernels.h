// Inner loops of the cpu backend's quantized-weight ops, one set per ISA (generic,
// AVX2/FMA, AVX-512), chosen with the GEMM kernel set (so PORTA_CPU_GEMM_ISA caps both).
// The driver (quant.cpp) owns threading, activation preparation and epilogues.
//
// GEMV (M <= kQuantGemvMaxM rows of activations): integer codes are unpacked to f32 in
// registers and multiplied with the activations; products of one scale group are summed
// in a vector accumulator that is scaled by s[n, g] once per group. Zero points never
// enter the inner loop: (q - z)·s·x summed over a group is s·(Σ q·x − z·Σ x), with Σ x per
// group computed once per call (int4's symmetric zero is z = 8). int4 at M = 1 has faster
// integer or bf16 routes where the ISA offers one: gemv_bf16 (AVX512-BF16), gemv_digits
// (AVX2 vpmaddubsw, AVX512-VNNI vpdpbusd on activations split into int8 digits).
#pragma once

#include <cstdint>

#include "backends/cpu/dtype_io.h"
#include "porta/dtype.h"
#include "porta/quant.h"

namespace porta::cpu {

constexpr int kQuantGemvMaxM = 16;

/// A weight as the kernels read it (canonical layout, porta/quant.h).
struct QuantRows {
  QuantFormat format;
  int64_t k;             // elements per row
  int64_t group;         // elements per scale group (k for per-channel / per-tensor)
  const uint8_t* codes;  // row n at codes + n * code_rs
  int64_t code_rs;
  const char* scales;  // s[n, g] at scales + (n * scale_rs + g * scale_cs) * size(scale_dtype)
  DType scale_dtype;
  int64_t scale_rs, scale_cs;
  const uint16_t* zeros;  // f16 z[n, g] at zeros[n * zero_rs + g * zero_cs]; null unless int4_zp
  int64_t zero_rs, zero_cs;

  int64_t groups() const { return (k + group - 1) / group; }
  // Inline: the GEMV reads one scale (and zero) per row and group, as often as every 32
  // weights; an out-of-line call there cost more than the group's multiply-adds.
  float scale(int64_t n, int64_t g) const {
    return load_f32(scale_dtype, scales, n * scale_rs + g * scale_cs);
  }
  /// Rows [n, n + rows)' scales toward every cache level where each row's are contiguous: the
  /// GEMVs call it with the next row block, as decode rotates the weight past the caches,
  /// scales included (one prefetch per 32 groups: 64 bytes of f16 scales).
  void prefetch_scales(int64_t n, int rows) const {
    if (scale_cs != 1) return;
    const int64_t bytes = scale_dtype == DType::f32 ? 4 : 2, G = groups();
    for (int r = 0; r < rows; ++r)
      for (int64_t g = 0; g < G; g += 32) __builtin_prefetch(scales + ((n + r) * scale_rs + g) * bytes, 0, 3);
  }
  /// The zero point subtracted from codes: z[n, g] (int4_zp), 8 (int4), 0 otherwise.
  float zero(int64_t n, int64_t g) const {
    if (format == QuantFormat::int4_zp) return f16_to_float(zeros[n * zero_rs + g * zero_cs]);
    return format == QuantFormat::int4 ? 8.0f : 0.0f;
  }
};

/// One GEMV call: y[m * ldy + (n - n0)] = Σ_j value(n, j) · x(m, j) for m < M, n in [n0, n1).
/// x holds M rows of K f32 (stride ldx) prepared by the driver: permuted (act-order) and,
/// for int4 formats, each full block of `int4_block` elements reordered as the kernel
/// unpacks bytes (even elements first, then odd); elements past the last full block stay
/// in order. xsum[m * G + g] = Σ of x(m, ·) over group g (int4 formats only).
/// premixed (int4 formats, sets with int4_premix): each block holds x_e − x_o / 16, then
/// x_o / 16 instead of x_e, x_o, so that a byte b = lo + 16·hi needs no shift:
/// lo·(x_e − x_o/16) + b·(x_o/16) = lo·x_e + hi·x_o. The driver premixes only when every value
/// is 0 or in [2^-100, 2^120] in magnitude (no overflow, no Inf − Inf, no subnormal x_o/16),
/// else passes plain blocks.
struct QuantGemvArgs {
  const QuantRows* w;
  int M;
  const float* x;
  int64_t ldx;
  const float* xsum;
  float* y;
  int64_t ldy;
  /// gemv_bf16 only: each activation row split by split_bf16 (row m at xb + m * ldxb).
  const uint16_t* xb;
  int64_t ldxb;
  bool premixed = false;
  /// gemv_digits only (M = 1): the activation row split by split_digits into `digits` int8
  /// digits per element (xd); unit: the span's unit per slot of min(group, kDigitSpan)
  /// elements (kDigitSpan for one scale per row), zero-padded to a multiple of 16 slots; x
  /// then holds the values the digits encode (natural order) and xsum their group sums.
  const int8_t* xd = nullptr;
  const float* unit = nullptr;
  int digits = 0;
};

/// Elements of one activation span of gemv_digits (one unit, the digits of 128 elements).
constexpr int64_t kDigitSpan = 128;

struct QuantKernels {
  const char* isa;
  int int4_block;  // elements of one int4 unpack block (2 x vector lanes)
  void (*gemv)(const QuantGemvArgs& a, int64_t n0, int64_t n1);
  /// out[j] = value(n, j) in f32 for j < k (code order).
  void (*dequant_row)(const QuantRows& w, int64_t n, float* out);
  /// out[j - j0] = value(n, j) for j in [j0, j1): the same values as dequant_row.
  void (*dequant_range)(const QuantRows& w, int64_t n, int64_t j0, int64_t j1, float* out);
  /// Optional (null where the CPU lacks AVX512-BF16): int4 / int4_zp GEMV on bf16 hi + lo
  /// activations, for groups that divide 128 (8..64) or are a multiple of it, or one per row. split_bf16
  /// writes one activation row of K f32 (natural order, permuted) into 2 * ceil(K/128)*128
  /// words; false when a value does not split (non-finite or beyond bf16's range).
  bool (*split_bf16)(const float* x, int64_t K, uint16_t* out);
  void (*gemv_bf16)(const QuantGemvArgs& a, int64_t n0, int64_t n1);
  /// gemv reads premixed int4 blocks (QuantGemvArgs::premixed) when the driver passes them.
  bool int4_premix = false;
  /// Optional: int4 / int4_zp GEMV at M = 1 on integer activation digits (AVX2 vpmaddubsw,
  /// 32 code x digit products per instruction; AVX-512BW vpmaddubsw, 64; AVX512-VNNI
  /// vpdpbusd, 64 with the add).
  /// split_digits writes x̃ = u·X, X = round(x / u) with |X| <= 2^(7·digits − 1) for a power
  /// of two u per span of kDigitSpan elements, into xr (natural order) and X's balanced
  /// base-128 digits (each in [−64, 64], X = Σ d_i·128^i) into xd: span c's digit i at
  /// xd + (c·digits + i)·kDigitSpan, each block of digit_block elements (the elements of one
  /// code load) as its even elements, then its odd ones (the load's low and high nibbles).
  /// digits = 3 keeps 20 bits below the span's largest value (f32 activations), 2 keeps 13
  /// (f16 / bf16). False when a value is not finite, beyond 2^120, or a nonzero span's largest
  /// value is below 2^-100 (the driver then takes gemv). gemv_digits: groups of 32, 64,
  /// multiples of 128, or one per row.
  bool (*split_digits)(const float* x, int64_t K, int digits, int block, float* xr, int8_t* xd,
                       float* unit) = nullptr;
  void (*gemv_digits)(const QuantGemvArgs& a, int64_t n0, int64_t n1) = nullptr;
  int digit_block = 64;
};

const QuantKernels& quant_kernels_generic();  // quant_kernels_generic.cpp
#if defined(PORTA_CPU_X86)
const QuantKernels& quant_kernels_avx2();        // quant_kernels_avx2.cpp
const QuantKernels& quant_kernels_avx512();      // quant_kernels_avx512.cpp
const QuantKernels& quant_kernels_avx512bf16();  // quant_kernels_avx512bf16.cpp
const QuantKernels& quant_kernels_avx512vnni();  // quant_gemv_digits_avx512vnni.cpp
bool quant_split_digits_avx2(const float* x, int64_t K, int digits, int block, float* xr, int8_t* xd,
                             float* unit);
void quant_gemv_digits_avx2(const QuantGemvArgs& a, int64_t n0, int64_t n1);  // quant_gemv_digits_avx2.cpp
void quant_gemv_digits_avx512(const QuantGemvArgs& a, int64_t n0,
                              int64_t n1);  // quant_gemv_digits_avx512.cpp
#endif
/// The set matching gemm_microkernel()'s ISA.
const QuantKernels& quant_kernels();

/// Scalar pieces shared by the sets' tails.
float quant_fp8_value(uint8_t code);  // E4M3FN table lookup
inline int quant_nibble(const uint8_t* row, int64_t j) { return j & 1 ? row[j >> 1] >> 4 : row[j >> 1] & 15; }
/// Σ_{j in [j0, j1)} (code(n, j) as used before scaling) · x[j] with natural-order x: codes for
/// int8 / int4 formats (zero handled by the caller), decoded values for fp8.
float quant_dot_scalar(const QuantRows& w, const uint8_t* row, int64_t j0, int64_t j1, const float* x);

}  // namespace porta::cpu
