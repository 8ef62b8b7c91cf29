#include "tensor_data.h"

#include <cstring>
#include <limits>

#include "dequant.h"
#include "load_error.h"
#include "porta/dtype.h"

namespace porta_run {

const char* src_type_name(SrcType t) {
  switch (t) {
    case SrcType::f32: return "f32";
    case SrcType::f16: return "f16";
    case SrcType::bf16: return "bf16";
    case SrcType::q8_0: return "Q8_0";
    case SrcType::q4_0: return "Q4_0";
    case SrcType::q4_k: return "Q4_K";
    case SrcType::q6_k: return "Q6_K";
    case SrcType::i32: return "I32";
  }
  return "?";
}

BlockFormat block_format(SrcType t) {
  switch (t) {
    case SrcType::f32: return {1, 4};
    case SrcType::f16: return {1, 2};
    case SrcType::bf16: return {1, 2};
    case SrcType::q8_0: return {32, 34};
    case SrcType::q4_0: return {32, 18};
    case SrcType::q4_k: return {256, 144};
    case SrcType::q6_k: return {256, 210};
    case SrcType::i32: return {1, 4};
  }
  return {1, 1};
}

int64_t TensorData::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // bounded by storage_bytes() when the tensor was read
  return n;
}

std::string TensorData::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

uint64_t storage_bytes(SrcType t, const std::vector<int64_t>& shape, const std::string& what) {
  const BlockFormat f = block_format(t);
  uint64_t elems = 1;
  for (int64_t d : shape) {
    if (d < 0) throw LoadError(what + ": negative dimension");
    if (d != 0 && elems > std::numeric_limits<uint64_t>::max() / 4 / static_cast<uint64_t>(d))
      throw LoadError(what + ": shape overflows 64 bits");
    elems *= static_cast<uint64_t>(d);
  }
  const int64_t inner = shape.empty() ? 1 : shape.back();
  if (inner % f.elems != 0)
    throw LoadError(what + ": contiguous dim " + std::to_string(inner) + " is not a multiple of the " +
                    src_type_name(t) + " block of " + std::to_string(f.elems));
  return elems / static_cast<uint64_t>(f.elems) * static_cast<uint64_t>(f.bytes);
}

void to_float(const TensorData& t, int64_t row0, int64_t rows, float* out) {
  const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  const BlockFormat f = block_format(t.type);
  const uint64_t row_bytes = static_cast<uint64_t>(cols / f.elems * f.bytes);
  const uint8_t* src = t.data + static_cast<uint64_t>(row0) * row_bytes;
  const int64_t n = rows * cols;
  switch (t.type) {
    case SrcType::f32: std::memcpy(out, src, static_cast<size_t>(n) * 4); return;
    case SrcType::f16: porta::convert_host(porta::DType::f16, src, porta::DType::f32, out, static_cast<size_t>(n)); return;
    case SrcType::bf16: porta::convert_host(porta::DType::bf16, src, porta::DType::f32, out, static_cast<size_t>(n)); return;
    case SrcType::q8_0: dequant_q8_0(src, n, out); return;
    case SrcType::q4_0: dequant_q4_0(src, n, out); return;
    case SrcType::q4_k: dequant_q4_k(src, n, out); return;
    case SrcType::q6_k: dequant_q6_k(src, n, out); return;
    case SrcType::i32: break;
  }
  throw LoadError(t.file + ": tensor '" + t.name + "' holds int32 values, not weights");
}

}  // namespace porta_run
