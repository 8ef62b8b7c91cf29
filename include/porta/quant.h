// Quantized weights: a weight W [N, K], used as x·Wᵀ (the layout of every LLM projection),
// held as packed integer or FP8 codes plus scales (plus integer zero points), and the ops
// that take it: quantize, dequantize, gemm and embedding. Activations stay f32/f16/bf16.
//
// Host canonical layout (what the importers in porta/quant_import.h produce and what
// QuantWeight::from_host / to_host exchange):
//   codes   row-major [N, row_bytes(K)] bytes. int8: one two's-complement byte per element.
//           int4 / int4_zp: two elements per byte, element 2j in the low nibble of byte j,
//           2j+1 in the high nibble (an odd K leaves the last high nibble 0). fp8_e4m3fn:
//           one OCP E4M3FN byte per element (bias 7, no infinities, 0x7f/0xff are NaN).
//   scales  [N, G] (G = K / group; 1 per row for per-channel; [1, 1] per tensor).
//   zeros   int4_zp only: [N, G] integer zero points, 0..255 (GPTQ v1's stored z − 1 is
//           already turned into the true zero by its importer).
//   perm    optional K-permutation (GPTQ act-order): code column j multiplies activation
//           perm[j]. Groups are consecutive in the permuted order.
// Dequantized value of element (n, j) in group g = j / group:
//   int8      code · s[n, g]
//   int4      (code − 8) · s[n, g]               (symmetric, as GGUF Q4_0)
//   int4_zp   (code − z[n, g]) · s[n, g]          (GPTQ v2 / AWQ)
//   fp8       e4m3fn(code) · s                   (per tensor, per channel or per group)
// On a device the same tensors hold the same bytes (each backend may repack at upload in
// the future; today every backend reads this layout). HIP's FNUZ FP8 variant is not a
// separate format: E4M3FN codes are decoded in software on every backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "porta/ops.h"
#include "porta/stream.h"
#include "porta/tensor.h"

namespace porta {

enum class QuantFormat : uint8_t { int8, int4, int4_zp, fp8_e4m3fn };
constexpr int kNumQuantFormats = 4;

/// "int8", "int4", "int4_zp", "fp8_e4m3fn".
const char* quant_format_name(QuantFormat f) noexcept;

/// How a weight is quantized: the format and how many elements along K share one scale.
struct QuantScheme {
  static constexpr int kPerChannel = 0;  // one scale per output row n
  static constexpr int kPerTensor = -1;  // one scale for the whole weight (fp8 only)

  QuantFormat format = QuantFormat::int4;
  int group = 128;                 // 32, 64, 128, kPerChannel or kPerTensor (fp8)
  DType scale_dtype = DType::f16;  // f16, bf16 or f32

  /// Scale groups per row for a weight of depth k (1 for per-channel / per-tensor).
  int64_t groups(int64_t k) const { return group > 0 ? k / group : 1; }
  /// "int4 g128 (f16 scales)"
  std::string str() const;
};

/// Bytes of one row of codes holding k elements of `f`.
constexpr int64_t quant_row_bytes(QuantFormat f, int64_t k) {
  return f == QuantFormat::int4 || f == QuantFormat::int4_zp ? (k + 1) / 2 : k;
}

/// E4M3FN decoding / round-to-nearest-even encoding (saturating to ±448; NaN -> 0x7f).
float fp8_e4m3fn_to_float(uint8_t code);
uint8_t float_to_fp8_e4m3fn(float v);

/// A quantized weight in host memory, in the canonical layout above.
struct QuantHostWeight {
  QuantScheme scheme;
  int64_t n = 0, k = 0;
  std::vector<uint8_t> codes;  // n * quant_row_bytes(format, k)
  std::vector<float> scales;   // n * groups (1 value when per tensor); rounded to scale_dtype on upload
  std::vector<float> zeros;    // int4_zp: n * groups; empty otherwise
  std::vector<int32_t> perm;   // empty, or k entries: a permutation of 0..k-1

  /// Dequantized element (n, j) of the permuted order (j indexes codes), as double.
  double value(int64_t row, int64_t j) const;
};

/// A quantized weight on a device: codes (i8 [N, row_bytes]), scales ([N, G] of
/// scheme.scale_dtype; row stride 0 when per tensor), zeros (f16 [N, G], int4_zp only)
/// and an optional perm (i32 [K]). Cheap to copy; views share memory.
class QuantWeight {
 public:
  QuantWeight() = default;

  /// Uninitialised storage for an [n, k] weight (filled by ops::quantize).
  static QuantWeight empty(const Device& device, const QuantScheme& scheme, int64_t n, int64_t k,
                           bool with_perm = false);
  /// Validates `h` (shapes, code ranges of zeros, the permutation) and uploads it.
  static QuantWeight from_host(Stream& s, const QuantHostWeight& h);
  /// Wraps existing device tensors (validated: dtypes, shapes, devices, group divides k).
  QuantWeight(const QuantScheme& scheme, int64_t n, int64_t k, Tensor codes, Tensor scales, Tensor zeros = {},
              Tensor perm = {});

  /// Copies to host memory in the canonical layout; waits for the stream.
  QuantHostWeight to_host(Stream& s) const;

  bool defined() const { return codes_.defined(); }
  const QuantScheme& scheme() const { return scheme_; }
  QuantFormat format() const { return scheme_.format; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  const Device& device() const { return codes_.device(); }
  const Tensor& codes() const { return codes_; }
  const Tensor& scales() const { return scales_; }
  const Tensor& zeros() const { return zeros_; }  // undefined unless int4_zp
  const Tensor& perm() const { return perm_; }    // undefined without act-order
  /// Bytes a kernel reads to use the whole weight once (codes + scales + zeros).
  int64_t nbytes() const;
  /// "int4 g128 (f16 scales) [4096, 4096]"
  std::string str() const;

  // ---- views (no copy): tensor-parallel splits ----
  /// Rows [start, end) (column-parallel split).
  QuantWeight slice_n(int64_t start, int64_t end) const;
  /// Columns [start, end) along K (row-parallel split). start and end must lie on group
  /// boundaries (any even column for per-channel int4); not with a permutation.
  QuantWeight slice_k(int64_t start, int64_t end) const;

 private:
  QuantScheme scheme_;
  int64_t n_ = 0, k_ = 0;
  Tensor codes_, scales_, zeros_, perm_;
};

/// Whether `device` runs `op_name` ("quantize", "dequantize", "gemm", "embedding") on
/// weights of format `f` with activations / outputs of dtype `act`. Ops on a device that
/// does not raise Errc::unsupported; the conformance suite skips on false.
bool supports_quant(const Device& device, const char* op_name, QuantFormat f, DType act);

namespace ops {

/// out = round-to-nearest quantization of w [N, K] (f32/f16/bf16) into out's scheme, on
/// the device. Deterministic. Scale rules per group (or row / tensor):
///   int8     d = absmax / 127,  code = clamp(round(w / d), −127, 127)
///   int4     d = m / −8 where m is the element of largest magnitude (signed; llama.cpp
///            Q4_0), code = min(15, trunc(w / d + 8.5))
///   int4_zp  lo = min(w, 0), hi = max(w, 0), d = (hi − lo) / 15, z = round(−lo / d),
///            code = clamp(round(w / d) + z, 0, 15)
///   fp8      d = absmax / 448, code = e4m3fn(w / d) rounded to nearest even
/// The scale is rounded to the scale dtype first; codes are computed with the rounded
/// scale (so dequantize reproduces exactly what the kernels use). A zero group gets d = 0
/// and codes of value 0. Error bound |w − dequant(w)| per element (plus the scale's
/// rounding): int8 d/2; int4 |d| (the value opposite the signed max is clamped to +7);
/// int4_zp d (d/2 inside the range, a whole step at its ends, which the rounded zero point
/// shifts); fp8 |w|·2⁻⁴ + d·2⁻¹⁰. out must not carry a permutation.
void quantize(Stream& s, const Tensor& w, QuantWeight& out);
/// Convenience: allocates the result on w's device.
QuantWeight quantize(Stream& s, const Tensor& w, const QuantScheme& scheme);

/// out [N, K] (f32/f16/bf16) = the dequantized weight (in code-column order: a
/// permutation, if any, is not undone). Computed in f32 and rounded once to out's dtype.
void dequantize(Stream& s, const QuantWeight& w, Tensor& out);

struct QuantGemmOptions {
  float alpha = 1.0f;
  float beta = 0.0f;             // C's old value is read only when beta != 0
  const Tensor* bias = nullptr;  // [N], added after alpha scaling, before the activation
  Activation activation = Activation::none;
};

/// C[..., M, N] = act(alpha · A[..., M, K] · Wᵀ + beta·C + bias) with W the quantized
/// [N, K] weight (its permutation applied to A's columns). A and C f32/f16/bf16, any
/// strides; f32 accumulation. M ≤ 16 streams the packed weight (GEMV); larger M
/// dequantizes tiles into the dense GEMM path.
void gemm(Stream& s, const Tensor& a, const QuantWeight& w, Tensor& c, const QuantGemmOptions& opt = {});

/// out[..., :] = dequantized table rows ids[...]; table [V, D] quantized, ids i32 of rank
/// ≤ 3, out [..ids, D] (f32/f16/bf16). An id outside [0, V) gives a row of zeros (as
/// the dense embedding; ids live on the device and are never trusted).
void embedding(Stream& s, const QuantWeight& table, const Tensor& ids, Tensor& out);

}  // namespace ops
}  // namespace porta
