#include "porta/tensor.h"

#include <algorithm>

#include "core/checked_math.h"
#include "core/impl.h"
#include "porta/error.h"
#include "porta/ops.h"
#include "porta/stream.h"

namespace porta {

using detail::checked_add;
using detail::checked_mul;

Shape::Shape(std::initializer_list<int64_t> d) {
  if (d.size() > static_cast<size_t>(kMaxRank))
    throw Error(Errc::invalid_argument, "Shape: rank " + std::to_string(d.size()) +
                                            " exceeds the maximum rank " + std::to_string(kMaxRank) +
                                            "; merge dimensions with reshape");
  rank = static_cast<int>(d.size());
  std::copy(d.begin(), d.end(), dims.begin());
}

int64_t Shape::numel() const {
  int64_t n = 1;
  // The message is built only on overflow: numel() sits in per-element loops of callers.
  for (int i = 0; i < rank; ++i)
    if (__builtin_mul_overflow(n, dims[static_cast<size_t>(i)], &n))
      throw Error(Errc::invalid_argument, "Shape" + str() + ": size overflows 64 bits; use smaller extents");
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[static_cast<size_t>(i)] != o.dims[static_cast<size_t>(i)]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[static_cast<size_t>(i)]);
  return s + "]";
}

Shape contiguous_strides(const Shape& shape) {
  Shape s;
  s.rank = shape.rank;
  int64_t acc = 1;
  for (int i = shape.rank - 1; i >= 0; --i) {
    s[i] = acc;
    acc = checked_mul(acc, std::max<int64_t>(shape[i], 1), "contiguous_strides" + shape.str());
  }
  return s;
}

namespace {

void check_shape(const char* what, const Shape& shape) {
  if (shape.rank < 1 || shape.rank > kMaxRank)
    throw Error(Errc::invalid_argument, std::string(what) + ": rank " + std::to_string(shape.rank) +
                                            " is not supported; tensors have rank 1 to 4");
  for (int i = 0; i < shape.rank; ++i) {
    if (shape[i] < 0)
      throw Error(Errc::invalid_argument, std::string(what) + ": extent " + std::to_string(shape[i]) +
                                              " of dim " + std::to_string(i) + " in " + shape.str() +
                                              " is negative; extents are >= 0 (0: an empty tensor)");
  }
}

// Bytes from element 0 to one past the last element reachable through the strides.
int64_t span_bytes(const Shape& shape, const Shape& strides, DType t) {
  for (int i = 0; i < shape.rank; ++i)
    if (shape[i] == 0) return 0;  // an empty view touches no byte
  int64_t last = 0;
  for (int i = 0; i < shape.rank; ++i)
    last = checked_add(last, checked_mul(shape[i] - 1, strides[i], "Tensor::view"), "Tensor::view");
  return checked_mul(checked_add(last, 1, "Tensor::view"), static_cast<int64_t>(dtype_size(t)),
                     "Tensor::view");
}

// Strides that show `from` (shape, strides) as shape `to` without moving data, when they
// exist: every run of dims merged or split must be laid out one after another. (The
// algorithm NumPy and PyTorch use for views.)
bool view_strides(const Shape& from, const Shape& from_strides, const Shape& to, Shape& out) {
  out = Shape();
  out.rank = to.rank;
  int vd = to.rank - 1;
  int64_t base = from_strides[from.rank - 1], tensor_numel = 1, view_numel = 1;
  for (int td = from.rank - 1; td >= 0; --td) {
    tensor_numel *= from[td];
    const bool chunk_ends = td == 0 || (from[td - 1] != 1 && from_strides[td - 1] != tensor_numel * base);
    if (!chunk_ends) continue;
    while (vd >= 0 && (view_numel < tensor_numel || to[vd] == 1)) {
      out[vd] = view_numel * base;
      view_numel *= to[vd];
      --vd;
    }
    if (view_numel != tensor_numel) return false;
    if (td > 0) {
      base = from_strides[td - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  return vd == -1;
}

}  // namespace

Tensor::Tensor(Device device, std::shared_ptr<detail::BufferImpl> buffer, DType dtype, const Shape& shape,
               const Shape& strides, int64_t offset_bytes)
    : device_(std::move(device)),
      buffer_(std::move(buffer)),
      dtype_(dtype),
      shape_(shape),
      strides_(strides),
      offset_(offset_bytes) {}

Tensor Tensor::empty(const Device& device, DType dtype, const Shape& shape) {
  if (!device.valid())
    throw Error(Errc::invalid_argument,
                "Tensor::empty: the device handle is empty; use porta::Device::select()");
  check_shape("Tensor::empty", shape);
  const int64_t bytes = checked_mul(shape.numel(), static_cast<int64_t>(dtype_size(dtype)),
                                    std::string("Tensor::empty ") + dtype_name(dtype) + shape.str());
  auto* dev = device.impl();
  const auto& info = dev->info();
  if (info.max_allocation_bytes != 0 && static_cast<uint64_t>(bytes) > info.max_allocation_bytes)
    throw Error(Errc::out_of_memory, std::string("Tensor::empty: ") + dtype_name(dtype) + shape.str() +
                                         " needs " + std::to_string(bytes) +
                                         " bytes, more than the largest allocation " + device.description() +
                                         " allows (" + std::to_string(info.max_allocation_bytes) +
                                         " bytes); split the tensor");
  // An empty tensor still gets a (1-byte) buffer: defined() holds and backends never see a
  // zero-size allocation, which some APIs (Vulkan) forbid.
  auto allocate = [&] {
    return dev->call("Tensor::empty", [&] { return dev->backend().allocate(static_cast<uint64_t>(std::max<int64_t>(bytes, 1))); });
  };
  std::unique_ptr<backend::Buffer> buf;
  try {
    buf = allocate();
  } catch (const Error& e) {
    if (e.code() != Errc::out_of_memory) throw;
    dev->reclaim();  // memory released by handles but still waiting for queued work
    buf = allocate();
  }
  auto impl = std::make_shared<detail::BufferImpl>(device.shared_impl(), std::move(buf));
  return Tensor(device, std::move(impl), dtype, shape, contiguous_strides(shape), 0);
}

Tensor Tensor::from_host(Stream& stream, DType dtype, const Shape& shape, const void* host) {
  Tensor t = empty(stream.device(), dtype, shape);
  t.copy_from_host(stream, host);
  stream.synchronize();
  return t;
}

static void need_defined(const Tensor& t, const char* what) {
  if (!t.defined())
    throw Error(Errc::invalid_argument,
                std::string(what) + ": the tensor is undefined (default-constructed)");
}

int64_t Tensor::dim(int i) const {
  need_defined(*this, "Tensor::dim");
  const int r = i < 0 ? i + rank() : i;
  if (r < 0 || r >= rank())
    throw Error(Errc::invalid_argument,
                "Tensor::dim: dim " + std::to_string(i) + " is out of range for " + str());
  return shape_[r];
}

int64_t Tensor::stride(int i) const {
  need_defined(*this, "Tensor::stride");
  const int r = i < 0 ? i + rank() : i;
  if (r < 0 || r >= rank())
    throw Error(Errc::invalid_argument,
                "Tensor::stride: dim " + std::to_string(i) + " is out of range for " + str());
  return strides_[r];
}

bool Tensor::is_contiguous() const {
  if (defined() && numel() == 0) return true;  // nothing to lay out
  int64_t expect = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  std::string s = std::string(dtype_name(dtype_)) + shape_.str();
  if (!is_contiguous()) s += " strides " + strides_.str();
  return s;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end, int64_t step) const {
  need_defined(*this, "Tensor::slice");
  const int d = dim < 0 ? dim + rank() : dim;
  if (d < 0 || d >= rank())
    throw Error(Errc::invalid_argument,
                "Tensor::slice: dim " + std::to_string(dim) + " is out of range for " + str());
  if (step < 1 || start < 0 || end > shape_[d] || start > end)
    throw Error(Errc::invalid_argument,
                "Tensor::slice: [" + std::to_string(start) + ", " + std::to_string(end) + ") step " +
                    std::to_string(step) + " on dim " + std::to_string(d) + " of " + str() +
                    " is invalid; need 0 <= start <= end <= " + std::to_string(shape_[d]) +
                    " and step >= 1 (start == end: an empty view)");
  Tensor t = *this;
  t.shape_[d] = (end - start + step - 1) / step;
  t.offset_ = checked_add(offset_,
                          checked_mul(checked_mul(start, strides_[d], "Tensor::slice"),
                                      static_cast<int64_t>(dtype_size(dtype_)), "Tensor::slice"),
                          "Tensor::slice");
  t.strides_[d] = checked_mul(strides_[d], step, "Tensor::slice");
  return t;
}

Tensor Tensor::transpose(int dim0, int dim1) const {
  need_defined(*this, "Tensor::transpose");
  const int a = dim0 < 0 ? dim0 + rank() : dim0;
  const int b = dim1 < 0 ? dim1 + rank() : dim1;
  if (a < 0 || a >= rank() || b < 0 || b >= rank())
    throw Error(Errc::invalid_argument, "Tensor::transpose: dims (" + std::to_string(dim0) + ", " +
                                            std::to_string(dim1) + ") are out of range for " + str());
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  need_defined(*this, "Tensor::reshape");
  check_shape("Tensor::reshape", shape);
  if (shape.numel() != numel())
    throw Error(Errc::shape_mismatch, "Tensor::reshape: " + str() + " has " + std::to_string(numel()) +
                                          " elements, " + shape.str() + " has " +
                                          std::to_string(shape.numel()));
  Shape strides;
  if (numel() == 0)
    strides = contiguous_strides(shape);  // no element to keep in place
  else if (!view_strides(shape_, strides_, shape, strides))
    throw Error(Errc::invalid_argument, "Tensor::reshape: " + str() + " cannot be viewed as " + shape.str() +
                                            " without a copy (the dims it merges are not laid out one after "
                                            "another); ops::copy it into a contiguous tensor first");
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides;
  return t;
}

Tensor Tensor::view(const Shape& shape, const Shape& strides, int64_t offset_bytes) const {
  need_defined(*this, "Tensor::view");
  check_shape("Tensor::view", shape);
  if (strides.rank != shape.rank)
    throw Error(Errc::invalid_argument,
                "Tensor::view: strides " + strides.str() + " and shape " + shape.str() + " differ in rank");
  for (int i = 0; i < strides.rank; ++i)
    if (strides[i] < 0)
      throw Error(Errc::invalid_argument,
                  "Tensor::view: negative stride in " + strides.str() + " is not supported");
  const auto esize = static_cast<int64_t>(dtype_size(dtype_));
  if (offset_bytes < 0 || offset_bytes % esize != 0)
    throw Error(Errc::invalid_argument, "Tensor::view: byte offset " + std::to_string(offset_bytes) +
                                            " must be a non-negative multiple of " + std::to_string(esize));
  const int64_t end = checked_add(offset_bytes, span_bytes(shape, strides, dtype_), "Tensor::view");
  if (static_cast<uint64_t>(end) > buffer_->size())
    throw Error(Errc::invalid_argument,
                "Tensor::view: " + std::string(dtype_name(dtype_)) + shape.str() + " strides " +
                    strides.str() + " at byte offset " + std::to_string(offset_bytes) + " reaches byte " +
                    std::to_string(end) + " of a " + std::to_string(buffer_->size()) + "-byte buffer");
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset_bytes;
  return t;
}

void Tensor::copy_from_host(Stream& stream, const void* host) {
  need_defined(*this, "Tensor::copy_from_host");
  if (numel() == 0) return;  // (an empty std::vector's data() may be null)
  if (host == nullptr) throw Error(Errc::invalid_argument, "Tensor::copy_from_host: host pointer is null");
  if (stream.device() != device_)
    throw Error(Errc::device_mismatch, "Tensor::copy_from_host: tensor on " + device_.description() +
                                           ", stream on " + stream.device().description());
  if (is_contiguous()) {
    auto* dev = device_.impl();
    buffer_->mark_use(stream.impl()->id, stream.impl()->begin_submission());
    dev->call("Tensor::copy_from_host", [&] {
      stream.impl()->queue->upload(buffer_->get(), static_cast<uint64_t>(offset_), host,
                                   static_cast<uint64_t>(nbytes()));
    });
    return;
  }
  Tensor staging = empty(device_, dtype_, shape_);
  staging.copy_from_host(stream, host);
  ops::copy(stream, staging, *this);
}

void Tensor::copy_to_host(Stream& stream, void* host) const {
  need_defined(*this, "Tensor::copy_to_host");
  if (numel() == 0) return;
  if (host == nullptr) throw Error(Errc::invalid_argument, "Tensor::copy_to_host: host pointer is null");
  if (stream.device() != device_)
    throw Error(Errc::device_mismatch, "Tensor::copy_to_host: tensor on " + device_.description() +
                                           ", stream on " + stream.device().description());
  if (is_contiguous()) {
    auto* dev = device_.impl();
    auto* si = stream.impl();
    const uint64_t seq = si->begin_submission();
    buffer_->mark_use(si->id, seq);
    dev->call("Tensor::copy_to_host", [&] {
      si->queue->download(buffer_->get(), static_cast<uint64_t>(offset_), host,
                          static_cast<uint64_t>(nbytes()));
      si->queue->synchronize();
    });
    si->completed(seq);
    return;
  }
  Tensor staging = empty(device_, dtype_, shape_);
  ops::copy(stream, *this, staging);
  staging.copy_to_host(stream, host);
}

}  // namespace porta
