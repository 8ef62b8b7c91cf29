// Importers of checkpoint layouts into QuantHostWeight (porta/quant.h's canonical layout),
// on the host, independent of any backend. Each refuses a bad layout with
// porta::Error(shape_mismatch / invalid_argument) naming the tensor and what is valid.
// `name` is the checkpoint's tensor name ("model.layers.0.mlp.down_proj"), used in messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "porta/quant.h"

namespace porta::quant_import {

/// GGUF Q8_0: a weight [n, k] (GGUF's ne0 = k along a row) stored as n * k/32 blocks of
/// 34 bytes {f16 d; int8 q[32]}, value q·d. Becomes int8, group 32, f16 scales.
QuantHostWeight gguf_q8_0(const std::string& name, int64_t n, int64_t k, const void* data, size_t bytes);

/// GGUF Q4_0: n * k/32 blocks of 18 bytes {f16 d; uint8 qs[16]}: element i < 16 in the low
/// nibble of qs[i], element 16 + i in its high nibble, value (q − 8)·d. Becomes int4, group 32.
QuantHostWeight gguf_q4_0(const std::string& name, int64_t n, int64_t k, const void* data, size_t bytes);

/// GPTQ (AutoGPTQ / GPTQModel, 4 bits) for a linear layer with k inputs and n outputs:
///   qweight int32 [k/8, n]   packed along K: bits 4j..4j+3 of qweight[i][c] hold row 8i + j
///   qzeros  int32 [G, n/8]   packed along N: bits 4j of qzeros[g][c] hold column 8c + j
///   scales  f16   [G, n]     G = k / group (group −1 or k: one group)
///   g_idx   int32 [k] or null (act-order: the group of each input channel)
/// v1 checkpoints store zero − 1 (dequantized (q − (z + 1))·s), v2 the true zero. A g_idx
/// other than k / group becomes the weight's K-permutation (each group must hold exactly
/// `group` channels). Becomes int4_zp with f16 scales.
struct GptqTensors {
  int64_t n = 0, k = 0;
  int group = 128;  // −1: one group over all of K
  bool v2 = false;  // false: GPTQ v1 (zero − 1 stored)
  const int32_t* qweight = nullptr;
  int64_t qweight_rows = 0, qweight_cols = 0;
  const int32_t* qzeros = nullptr;
  int64_t qzeros_rows = 0, qzeros_cols = 0;
  const uint16_t* scales = nullptr;  // f16 bits
  int64_t scales_rows = 0, scales_cols = 0;
  const int32_t* g_idx = nullptr;
  int64_t g_idx_len = 0;
};
QuantHostWeight gptq(const std::string& name, const GptqTensors& t);

/// AutoAWQ "gemm" version (4 bits): qweight int32 [k, n/8] and qzeros int32 [k/group, n/8]
/// packed along N with nibble p of each int32 holding column 8c + {0, 2, 4, 6, 1, 3, 5, 7}[p];
/// scales f16 [k/group, n]; value (q − z)·s. Becomes int4_zp with f16 scales.
struct AwqTensors {
  int64_t n = 0, k = 0;
  int group = 128;
  const int32_t* qweight = nullptr;
  int64_t qweight_rows = 0, qweight_cols = 0;
  const int32_t* qzeros = nullptr;
  int64_t qzeros_rows = 0, qzeros_cols = 0;
  const uint16_t* scales = nullptr;  // f16 bits
  int64_t scales_rows = 0, scales_cols = 0;
};
QuantHostWeight awq(const std::string& name, const AwqTensors& t);

}  // namespace porta::quant_import
