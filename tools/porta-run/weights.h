// Checkpoint tensors to device tensors: the porta dtype each one gets under --weights, the
// conversion on the host (in row chunks, straight from the mapping when no conversion is
// needed), and the refusal of a tensor larger than the device's largest allocation.
#pragma once

#include <string>
#include <vector>

#include "porta/porta.h"
#include "tensor_data.h"

namespace porta_run {

/// --weights: "auto" keeps f32/f16/bf16 as stored and dequantizes block formats to bf16;
/// "f32", "f16", "bf16" convert everything to that dtype.
struct WeightFormat {
  std::string mode = "auto";
  /// The dtype a tensor stored as `src` is loaded as; *exact tells whether every value survives.
  porta::DType dtype_for(SrcType src, bool* exact) const;
};

/// Throws LoadError when `mode` is not a known --weights value.
WeightFormat parse_weight_format(const std::string& mode);

/// One device tensor [sum of rows, cols] holding the parts' rows one after another (fused
/// projections), converted to `dt`. Every part is rank 1 (one row) or 2 with the same cols.
porta::Tensor upload_rows(porta::Stream& s, const std::vector<const TensorData*>& parts, porta::DType dt,
                          const std::string& what);

/// Throws LoadError when `bytes` exceeds the device's largest allocation (naming `what`).
void check_fits(const porta::Device& d, uint64_t bytes, const std::string& what);

}  // namespace porta_run
