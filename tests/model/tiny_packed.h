// GPTQ (v1 / v2, optional act-order) and AWQ (AutoAWQ gemm) int4 checkpoints of a tiny
// model, quantized and packed here from each format's definition (AutoGPTQ's
// QuantLinear.pack, AutoAWQ's WQLinear_GEMM), not by porta's importers. The dequantized
// weights the file really holds are returned for the float64 reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tiny_model.h"

namespace porta_run_test {

enum class PackedKind { gptq_v1, gptq_v2, awq };

struct PackedSpec {
  PackedKind kind = PackedKind::gptq_v1;
  int group = 64;
  bool act_order = false;  // GPTQ only: a random g_idx per projection
};

/// The quantization_config JSON object a quantizer writes for `p`.
std::string packed_config_json(const PackedSpec& p);

/// Every tensor of the packed checkpoint (projections as qweight/qzeros/scales[/g_idx], the
/// rest f16), and in `held` the weights the file holds (Hugging Face names, dequantized).
std::vector<StEntry> packed_entries(const TinyModel& m, const PackedSpec& p, uint64_t seed,
                                    porta::ref::WeightMap* held);

/// config.json (with quantization_config) and model.safetensors in `dir`; returns `held`.
porta::ref::WeightMap write_packed(const TinyModel& m, const std::string& dir, const PackedSpec& p,
                                   uint64_t seed);

}  // namespace porta_run_test
