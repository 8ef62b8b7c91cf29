// Checkpoint tensors to device weights: the porta format each one gets under --weights
// (a dense dtype or a porta::QuantWeight), the conversion on the host (in row chunks,
// straight from the mapping when no conversion is needed; GGUF Q8_0/Q4_0 blocks become
// int8/int4 group-32 codes exactly), and the refusal of a tensor larger than the device's
// largest allocation. GPTQ / AWQ int4 layers become int4_zp weights (or are dequantized
// where the device or --weights asks for a dense format).
#pragma once

#include <string>
#include <vector>

#include "porta/porta.h"
#include "packed_int4.h"
#include "porta/quant.h"
#include "tensor_data.h"

namespace porta_run {

/// A projection or table on the device: dense, or quantized (then `dense` is undefined), or
/// split into parts whose outputs are concatenated (fused projections whose parts cannot
/// share one weight: GPTQ act-order permutations that differ, a quantized part next to a
/// dense one).
struct Weight {
  porta::Tensor dense;
  porta::QuantWeight quant;
  std::vector<Weight> split;
  bool defined() const { return dense.defined() || quant.defined() || !split.empty(); }
  int64_t rows() const;
  uint64_t nbytes() const;
  std::string format() const;  // "bf16", "int4 g32 (f16 scales)", "int4_zp g64 (f16 scales) act-order"
};

/// What one checkpoint tensor becomes.
struct WeightPlan {
  bool quantized = false;
  porta::DType dtype = porta::DType::bf16;  // dense
  porta::QuantScheme scheme;                // quantized
  bool exact = true;                        // every stored value survives
};

/// --weights: "auto" keeps f32/f16/bf16 as stored, GGUF Q8_0/Q4_0 as int8/int4 group-32
/// weights where the device runs them (else bf16), other block formats as bf16;
/// "f32", "f16", "bf16" convert everything to that dtype; "int8", "int4" quantize every
/// projection (group 32, f16 scales) on the device.
struct WeightFormat {
  std::string mode = "auto";
  /// The plan for a tensor stored as `src` on `dev` with activations `act`. `table`: the
  /// embedding table (also needs the quantized embedding op).
  WeightPlan plan(SrcType src, const porta::Device& dev, porta::DType act, bool table) const;
  /// The plan for a GPTQ / AWQ int4 layer: auto keeps it int4_zp where the device runs it
  /// (exact), else bf16; f32/f16/bf16 dequantize, int8/int4 requantize (group 32).
  WeightPlan plan_packed(const porta::Device& dev, porta::DType act) const;
};

/// Throws LoadError when `mode` is not a known --weights value.
WeightFormat parse_weight_format(const std::string& mode);

/// One device tensor [sum of rows, cols] holding the parts' rows one after another (fused
/// projections), converted to `dt`. Every part is rank 1 (one row) or 2 with the same cols.
porta::Tensor upload_rows(porta::Stream& s, const std::vector<const TensorData*>& parts, porta::DType dt,
                          const std::string& what);

/// The parts (rows one after another, like upload_rows) as one weight following `plan`.
Weight upload_weight(porta::Stream& s, const std::vector<const TensorData*>& parts, const WeightPlan& plan,
                     const std::string& what);

/// One part of a fused projection in a GPTQ / AWQ checkpoint: packed, or dense (a module the
/// quantizer left alone).
struct LayerPart {
  const TensorData* dense = nullptr;
  PackedLinear packed;
  int64_t n = 0, k = 0;
};

/// The parts (rows one after another) as one weight following `plan` (from plan_packed).
/// int4_zp parts with the same permutation and group are fused into one weight; others are
/// kept as a split weight.
Weight upload_packed(porta::Stream& s, const PackedFormat& f, const std::vector<LayerPart>& parts,
                     const WeightPlan& plan, const WeightFormat& formats, porta::DType act, const std::string& what);

/// Throws LoadError when `bytes` exceeds the device's largest allocation (naming `what`).
void check_fits(const porta::Device& d, uint64_t bytes, const std::string& what);

}  // namespace porta_run
