#include "weights.h"

#include <algorithm>
#include <cstring>

#include "load_error.h"
#include "porta/quant_import.h"

namespace porta_run {

using porta::DType;

int64_t Weight::rows() const {
  if (!split.empty()) {
    int64_t r = 0;
    for (const Weight& w : split) r += w.rows();
    return r;
  }
  return quant.defined() ? quant.n() : dense.dim(0);
}

uint64_t Weight::nbytes() const {
  if (!split.empty()) {
    uint64_t b = 0;
    for (const Weight& w : split) b += w.nbytes();
    return b;
  }
  return quant.defined() ? static_cast<uint64_t>(quant.nbytes()) : static_cast<uint64_t>(dense.nbytes());
}

std::string Weight::format() const {
  if (!split.empty()) return split.front().format();
  if (!quant.defined()) return porta::dtype_name(dense.dtype());
  return quant.scheme().str() + (quant.perm().defined() ? " act-order" : "");
}

namespace {

porta::QuantScheme group32(porta::QuantFormat f) {
  porta::QuantScheme q;
  q.format = f;
  q.group = 32;
  q.scale_dtype = DType::f16;
  return q;
}

bool runs_quant(const porta::Device& dev, porta::QuantFormat f, DType act, bool table) {
  return porta::supports_quant(dev, "gemm", f, act) && (!table || porta::supports_quant(dev, "embedding", f, act));
}

}  // namespace

WeightPlan WeightFormat::plan(SrcType src, const porta::Device& dev, DType act, bool table) const {
  WeightPlan p;
  if (mode == "int8" || mode == "int4") {
    p.quantized = true;
    p.scheme = group32(mode == "int8" ? porta::QuantFormat::int8 : porta::QuantFormat::int4);
    if (!runs_quant(dev, p.scheme.format, act, table))
      throw LoadError("--weights " + mode + ": " + dev.description() + " does not run " + p.scheme.str() +
                      " weights with " + porta::dtype_name(act) + " activations (use --weights bf16)");
    p.exact = (src == SrcType::q8_0 && mode == "int8") || (src == SrcType::q4_0 && mode == "int4");
    return p;
  }
  if (mode == "auto" && (src == SrcType::q8_0 || src == SrcType::q4_0)) {
    const porta::QuantScheme q = group32(src == SrcType::q8_0 ? porta::QuantFormat::int8 : porta::QuantFormat::int4);
    if (runs_quant(dev, q.format, act, table)) {
      p.quantized = true;
      p.scheme = q;
      return p;
    }
  }
  DType dt = DType::bf16;
  if (mode == "f32") dt = DType::f32;
  else if (mode == "f16") dt = DType::f16;
  else if (mode == "bf16") dt = DType::bf16;
  else if (src == SrcType::f32) dt = DType::f32;
  else if (src == SrcType::f16) dt = DType::f16;
  p.dtype = dt;
  p.exact = dt == DType::f32 || (src == SrcType::f16 && dt == DType::f16) || (src == SrcType::bf16 && dt == DType::bf16);
  return p;
}

WeightPlan WeightFormat::plan_packed(const porta::Device& dev, DType act) const {
  WeightPlan p;
  if (mode == "int8" || mode == "int4") {
    p = plan(SrcType::f32, dev, act, false);  // requantized from the dequantized values
    p.exact = false;
    return p;
  }
  if (mode == "auto" && runs_quant(dev, porta::QuantFormat::int4_zp, act, false)) {
    p.quantized = true;
    p.scheme.format = porta::QuantFormat::int4_zp;  // the group is the file's
    p.scheme.scale_dtype = DType::f16;
    return p;
  }
  // (q − z)·s with an f16 scale needs up to 15 significant bits: exact in f32 only.
  p.dtype = mode == "f32" ? DType::f32 : mode == "f16" ? DType::f16 : DType::bf16;
  p.exact = p.dtype == DType::f32;
  return p;
}

WeightFormat parse_weight_format(const std::string& mode) {
  if (mode != "auto" && mode != "f32" && mode != "f16" && mode != "bf16" && mode != "int8" && mode != "int4")
    throw LoadError("--weights " + mode + ": expected auto, f32, f16, bf16, int8 or int4");
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

namespace {

// GGUF Q8_0 / Q4_0 blocks of 32 are porta's int8 / int4 group-32 codes with an f16 scale:
// porta's importer (porta/quant_import.h) rearranges them; parts are appended row-wise.
void append_blocks(const TensorData& t, porta::QuantHostWeight& h) {
  const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0], k = t.shape.back();
  const porta::QuantHostWeight p =
      t.type == SrcType::q8_0 ? porta::quant_import::gguf_q8_0(t.name, rows, k, t.data, static_cast<size_t>(t.bytes))
                              : porta::quant_import::gguf_q4_0(t.name, rows, k, t.data, static_cast<size_t>(t.bytes));
  h.codes.insert(h.codes.end(), p.codes.begin(), p.codes.end());
  h.scales.insert(h.scales.end(), p.scales.begin(), p.scales.end());
}

}  // namespace

Weight upload_weight(porta::Stream& s, const std::vector<const TensorData*>& parts, const WeightPlan& plan,
                     const std::string& what) {
  Weight w;
  if (!plan.quantized) {
    w.dense = upload_rows(s, parts, plan.dtype, what);
    return w;
  }
  const int64_t k = parts.front()->shape.back();
  int64_t n = 0;
  for (const TensorData* p : parts) n += p->shape.size() == 1 ? 1 : p->shape[0];
  check_fits(s.device(), static_cast<uint64_t>(n * porta::quant_row_bytes(plan.scheme.format, k)), what);
  const SrcType direct = plan.scheme.format == porta::QuantFormat::int8 ? SrcType::q8_0 : SrcType::q4_0;
  bool all_direct = true;
  for (const TensorData* p : parts) all_direct = all_direct && p->type == direct;
  if (all_direct) {  // exact: the file's blocks are the codes
    porta::QuantHostWeight h;
    h.scheme = plan.scheme;
    h.n = n, h.k = k;
    for (const TensorData* p : parts) append_blocks(*p, h);
    w.quant = porta::QuantWeight::from_host(s, h);
    s.synchronize();
    return w;
  }
  // Anything else: dense f32 on the device, quantized there (round to nearest, porta's rules).
  const porta::Tensor dense = upload_rows(s, parts, DType::f32, what);
  w.quant = porta::ops::quantize(s, dense, plan.scheme);
  s.synchronize();
  return w;
}

}  // namespace porta_run

namespace porta_run {

namespace {

// Appends h's rows to `into` (same k, scheme and permutation: checked by the caller).
void append_rows(porta::QuantHostWeight& into, const porta::QuantHostWeight& h) {
  if (into.codes.empty()) {
    into = h;
    return;
  }
  into.n += h.n;
  into.codes.insert(into.codes.end(), h.codes.begin(), h.codes.end());
  into.scales.insert(into.scales.end(), h.scales.begin(), h.scales.end());
  into.zeros.insert(into.zeros.end(), h.zeros.begin(), h.zeros.end());
}

bool same_layout(const porta::QuantHostWeight& a, const porta::QuantHostWeight& b) {
  return a.k == b.k && a.scheme.group == b.scheme.group && a.perm == b.perm;
}

}  // namespace

Weight upload_packed(porta::Stream& s, const PackedFormat& f, const std::vector<LayerPart>& parts,
                     const WeightPlan& plan, const WeightFormat& formats, DType act, const std::string& what) {
  const int64_t k = parts.front().k;
  int64_t n = 0;
  for (const LayerPart& p : parts) n += p.n;
  Weight w;
  if (!plan.quantized || plan.scheme.format != porta::QuantFormat::int4_zp) {
    // Dense or requantized: the dequantized rows, in input-channel order, as f32.
    check_fits(s.device(), static_cast<uint64_t>(n * k) * 4, what);
    std::vector<float> rows;
    rows.reserve(static_cast<size_t>(n * k));
    for (const LayerPart& p : parts) {
      std::vector<float> part;
      if (p.dense) {
        part.resize(static_cast<size_t>(p.n * k));
        to_float(*p.dense, 0, p.n, part.data());
      } else {
        part = dequantize_host(import_packed(f, p.packed, p.n, k));
      }
      rows.insert(rows.end(), part.begin(), part.end());
    }
    const porta::Tensor dense = porta::Tensor::from_host(s, DType::f32, {n, k}, rows.data());
    if (plan.quantized) {
      w.quant = porta::ops::quantize(s, dense, plan.scheme);
    } else if (plan.dtype == DType::f32) {
      w.dense = dense;
    } else {
      w.dense = porta::Tensor::empty(s.device(), plan.dtype, {n, k});
      porta::ops::cast(s, dense, w.dense);
    }
    s.synchronize();
    return w;
  }
  // int4_zp: one weight when every part is packed with the same group and permutation.
  std::vector<porta::QuantHostWeight> hosts;
  bool fuse = true;
  for (const LayerPart& p : parts) {
    if (p.dense) {
      fuse = false;
      hosts.emplace_back();
      continue;
    }
    hosts.push_back(import_packed(f, p.packed, p.n, k));
    fuse = fuse && same_layout(hosts.front(), hosts.back());
  }
  if (fuse) {
    porta::QuantHostWeight all;
    for (const porta::QuantHostWeight& h : hosts) append_rows(all, h);
    check_fits(s.device(), static_cast<uint64_t>(all.codes.size()), what);
    w.quant = porta::QuantWeight::from_host(s, all);
    s.synchronize();
    return w;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    Weight part;
    if (parts[i].dense) {
      part = upload_weight(s, {parts[i].dense}, formats.plan(parts[i].dense->type, s.device(), act, false), what);
    } else {
      check_fits(s.device(), static_cast<uint64_t>(hosts[i].codes.size()), what);
      part.quant = porta::QuantWeight::from_host(s, hosts[i]);
    }
    w.split.push_back(std::move(part));
  }
  s.synchronize();
  return w;
}

}  // namespace porta_run
