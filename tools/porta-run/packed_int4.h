// GPTQ and AWQ int4 checkpoints (Hugging Face safetensors whose config.json carries a
// quantization_config): the variant the config declares (unsupported ones refused by name),
// the packed tensors of one linear layer (qweight, qzeros, scales, g_idx) with their dtypes
// and shapes checked against the model config, and their import into porta's int4_zp
// weights through porta/quant_import.h, or their dequantization on the host for devices
// (or --weights choices) without int4_zp.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "porta/quant.h"
#include "tensor_data.h"

namespace porta_run {

struct PackedFormat {
  enum class Method { none, gptq, awq };
  Method method = Method::none;
  bool gptq_v2 = false;   // GPTQ: the true zero point is stored (v1 stores zero − 1)
  int group = 128;        // −1: one group over all of K
  bool desc_act = false;  // GPTQ act-order: g_idx permutes the input channels
  bool sym = true;        // informational: zero points are stored either way
  bool defined() const { return method != Method::none; }
  /// "GPTQ v1 int4 g128 act-order", "AWQ gemm int4 g128".
  std::string str() const;
};

/// Reads a quantization_config object (from config.json, or quantize_config.json where
/// `default_gptq`: older AutoGPTQ files omit quant_method). Throws LoadError naming `source`,
/// the key and what porta-run reads for every variant it does not: bits other than 4,
/// kernel-specific repackings (GPTQ marlin/bitblas/ipex, AWQ gemv/gemv_fast/marlin/exllama/
/// ipex), AWQ without zero points, per-module overrides, other methods.
PackedFormat parse_packed_format(const nlohmann::json& q, const std::string& source, bool default_gptq);

/// The packed tensors of one linear layer ("model.layers.0.self_attn.q_proj"); g_idx is null
/// when the file has none.
struct PackedLinear {
  std::string name;
  const TensorData *qweight = nullptr, *qzeros = nullptr, *scales = nullptr, *g_idx = nullptr;
};

/// Checks that every tensor is there with its dtype (I32; scales F16) and the shape an
/// [n, k] layer of format `f` takes; throws LoadError naming the file, the tensor, the shape
/// found and the shape expected (`config` describes the model for the message).
void check_packed(const PackedFormat& f, const PackedLinear& p, int64_t n, int64_t k,
                  const std::string& config);

/// The layer as porta's int4_zp weight (act-order becomes the weight's K-permutation),
/// through porta::quant_import. Throws LoadError naming the file on a bad layout.
porta::QuantHostWeight import_packed(const PackedFormat& f, const PackedLinear& p, int64_t n, int64_t k);

/// The dequantized weight [n, k] as f32, in input-channel order (a permutation undone).
std::vector<float> dequantize_host(const porta::QuantHostWeight& h);

}  // namespace porta_run
