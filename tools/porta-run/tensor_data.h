// A tensor as a checkpoint stores it: element format, shape in row-major order (the last
// dim is contiguous, as PyTorch prints it), and its bytes inside a mapped file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace porta_run {

/// Storage formats porta-run reads. Block formats are GGML's (32 or 256 elements along the
/// contiguous dim per block). i32: the packed words, zero points and g_idx of GPTQ / AWQ
/// checkpoints (never a float weight).
enum class SrcType { f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, i32 };

struct BlockFormat {
  int64_t elems;  // elements per block along the contiguous dim
  int64_t bytes;  // bytes per block
};

const char* src_type_name(SrcType t);
BlockFormat block_format(SrcType t);
/// True for the formats stored as whole elements (f32, f16, bf16).
inline bool is_dense(SrcType t) { return t == SrcType::f32 || t == SrcType::f16 || t == SrcType::bf16; }

struct TensorData {
  std::string name;
  std::string file;  // for messages
  SrcType type = SrcType::f32;
  std::vector<int64_t> shape;  // row-major
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;

  int64_t numel() const;
  std::string shape_str() const;  // "[4096, 1024]"
};

/// Bytes a tensor of `shape` takes in format t; throws LoadError (naming `what`) when the
/// contiguous dim is not a whole number of blocks or the size overflows 64 bits.
uint64_t storage_bytes(SrcType t, const std::vector<int64_t>& shape, const std::string& what);

/// Converts or dequantizes rows [row0, row0 + rows) of a rank-1/2 tensor (rank 1: one row) to f32.
void to_float(const TensorData& t, int64_t row0, int64_t rows, float* out);

}  // namespace porta_run
