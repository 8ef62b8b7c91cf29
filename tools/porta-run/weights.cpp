#include "weights.h"

#include <algorithm>
#include <cstring>

#include "load_error.h"

namespace porta_run {

using porta::DType;

porta::DType WeightFormat::dtype_for(SrcType src, bool* exact) const {
  DType dt = DType::bf16;
  if (mode == "f32") dt = DType::f32;
  else if (mode == "f16") dt = DType::f16;
  else if (mode == "bf16") dt = DType::bf16;
  else if (src == SrcType::f32) dt = DType::f32;
  else if (src == SrcType::f16) dt = DType::f16;
  *exact = dt == DType::f32 || (src == SrcType::f16 && dt == DType::f16) || (src == SrcType::bf16 && dt == DType::bf16);
  return dt;
}

WeightFormat parse_weight_format(const std::string& mode) {
  if (mode != "auto" && mode != "f32" && mode != "f16" && mode != "bf16")
    throw LoadError("--weights " + mode + ": expected auto, f32, f16 or bf16");
  WeightFormat f;
  f.mode = mode;
  return f;
}

namespace {

std::string mib(uint64_t b) { return std::to_string((b + (1 << 19)) >> 20) + " MiB"; }

porta::DType dense_dtype(SrcType t) {
  return t == SrcType::f32 ? DType::f32 : t == SrcType::f16 ? DType::f16 : DType::bf16;
}

}  // namespace

void check_fits(const porta::Device& d, uint64_t bytes, const std::string& what) {
  const uint64_t cap = d.info().max_allocation_bytes;
  if (cap != 0 && bytes > cap)
    throw LoadError(what + " needs " + mib(bytes) + " but " + d.description() + " allocates at most " + mib(cap) +
                    " per buffer: use a device with larger allocations (PORTA_DEVICE / --device), smaller "
                    "weights (--weights bf16 for an f32 file) or a smaller model");
}

porta::Tensor upload_rows(porta::Stream& s, const std::vector<const TensorData*>& parts, porta::DType dt,
                          const std::string& what) {
  // 1-D parts (biases, norms) are concatenated into one vector: each is a single "row".
  const bool vectors = parts.front()->shape.size() == 1;
  int64_t rows = 0, cols = vectors ? 0 : parts.front()->shape.back();
  for (const TensorData* p : parts) {
    if (vectors) cols += p->numel();
    else rows += p->shape[0];
  }
  if (vectors) rows = 1;
  check_fits(s.device(), static_cast<uint64_t>(rows * cols) * porta::dtype_size(dt), what);
  porta::Tensor t = porta::Tensor::empty(s.device(), dt, vectors ? porta::Shape{cols} : porta::Shape{rows, cols});
  std::vector<float> f32;
  std::vector<uint8_t> conv;
  // Uploads rows [r0, r0 + n) of part p (n x c values) into dst.
  auto put = [&](const TensorData* p, int64_t r0, int64_t n, int64_t c, porta::Tensor dst) {
    if (is_dense(p->type) && dense_dtype(p->type) == dt) {  // as stored: straight from the mapping
      dst.copy_from_host(s, p->data + static_cast<uint64_t>(r0 * c) * porta::dtype_size(dt));
      return;
    }
    f32.resize(static_cast<size_t>(n * c));
    to_float(*p, r0, n, f32.data());
    if (dt == DType::f32) {
      dst.copy_from_host(s, f32.data());
      return;
    }
    conv.resize(f32.size() * porta::dtype_size(dt));
    porta::convert_host(DType::f32, f32.data(), dt, conv.data(), f32.size());
    dst.copy_from_host(s, conv.data());
  };
  int64_t at = 0;
  for (const TensorData* p : parts) {
    if (vectors) {
      put(p, 0, 1, p->numel(), t.slice(0, at, at + p->numel()));
      at += p->numel();
      continue;
    }
    // Chunks of about 16 MiB of f32 keep host memory flat whatever the tensor's size.
    const int64_t chunk = std::max<int64_t>(1, (int64_t{4} << 20) / std::max<int64_t>(cols, 1));
    for (int64_t r0 = 0; r0 < p->shape[0]; r0 += chunk) {
      const int64_t n = std::min(chunk, p->shape[0] - r0);
      put(p, r0, n, cols, t.slice(0, at + r0, at + r0 + n));
    }
    at += p->shape[0];
  }
  s.synchronize();
  return t;
}

}  // namespace porta_run
