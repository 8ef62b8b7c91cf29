#include "core/validate.h"

#include <cmath>

#include "core/log.h"
#include "porta/stream.h"

namespace porta::detail {

static void log_debug_staging(const char* op, const char* role, const Tensor& t) {
  log_debug(std::string(op) + ": the device reads only contiguous data, so " + role + " " + t.str() +
            " goes through a contiguous copy");
}

backend::TensorArg to_arg(const Tensor& t) {
  backend::TensorArg a;
  a.buffer = &t.buffer()->get();
  a.offset = t.offset_bytes();
  a.dtype = t.dtype();
  a.rank = t.rank();
  for (int i = 0; i < t.rank(); ++i) {
    a.shape[i] = t.shape()[i];
    a.strides[i] = t.strides()[i];
  }
  return a;
}

std::string describe(const char* name, const Tensor& t) { return std::string(name) + " " + t.str(); }

OpCall::OpCall(const char* op, backend::Op kind, Stream& s) : op_(op), kind_(kind), stream_(s) {
  if (s.impl() == nullptr)
    throw Error(Errc::invalid_argument, std::string(op) + ": the stream was moved from");
  dev_ = s.device().impl();
  dev_->check_alive(op);
  stream_id_ = s.impl()->id;
  seq_ = s.impl()->begin_submission();
}

void OpCall::fail(Errc code, const std::string& message) const {
  throw Error(code, std::string(op_) + ": " + message);
}

void OpCall::tensor(const Tensor& t, const char* name) const {
  if (!t.defined()) fail(Errc::invalid_argument, std::string(name) + " is an undefined tensor");
  if (t.device() != stream_.device())
    fail(Errc::device_mismatch, describe(name, t) + " lives on " + t.device().description() +
                                    " but the stream runs on " + stream_.device().description() +
                                    "; copy it to the stream's device (download + upload) first");
  use(t);
}

void OpCall::rank_in(const Tensor& t, const char* name, int lo, int hi) const {
  if (t.rank() < lo || t.rank() > hi)
    fail(Errc::shape_mismatch,
         describe(name, t) + " has rank " + std::to_string(t.rank()) + "; expected rank " +
             (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)));
}

void OpCall::floating(const Tensor& t, const char* name) const {
  if (!is_floating(t.dtype())) fail(Errc::dtype_mismatch, describe(name, t) + " must be f32, f16 or bf16");
}

void OpCall::dtype_is(const Tensor& t, const char* name, DType d) const {
  if (t.dtype() != d) fail(Errc::dtype_mismatch, describe(name, t) + " must have dtype " + dtype_name(d));
}

void OpCall::same_dtype(const Tensor& a, const char* an, const Tensor& b, const char* bn) const {
  if (a.dtype() != b.dtype())
    fail(Errc::dtype_mismatch, describe(an, a) + " and " + describe(bn, b) +
                                   " must have the same dtype; ops::cast one of them first");
}

void OpCall::same_shape(const Tensor& a, const char* an, const Tensor& b, const char* bn) const {
  if (a.shape() != b.shape())
    fail(Errc::shape_mismatch, describe(an, a) + " and " + describe(bn, b) + " must have the same shape");
}

void OpCall::same_as_input(const Tensor& in, const char* in_name, const Tensor& out,
                           const char* out_name) const {
  tensor(in, in_name);
  tensor(out, out_name);
  same_dtype(in, in_name, out, out_name);
  same_shape(in, in_name, out, out_name);
  writable(out, out_name);
  no_overlap(out, out_name, in, in_name, true);
}

void OpCall::writable(const Tensor& out, const char* name) const {
  for (int i = 0; i < out.rank(); ++i)
    if (out.shape()[i] > 1 && out.strides()[i] == 0)
      fail(Errc::invalid_argument,
           describe(name, out) + " has stride 0 on dim " + std::to_string(i) +
               ", so elements would be written twice; use a tensor without broadcast dims");
}

namespace {
// [first byte, one past last byte] a view can touch.
std::pair<int64_t, int64_t> byte_range(const Tensor& t) {
  int64_t last = 0;
  for (int i = 0; i < t.rank(); ++i) last += (t.shape()[i] - 1) * t.strides()[i];
  const auto es = static_cast<int64_t>(dtype_size(t.dtype()));
  return {t.offset_bytes(), t.offset_bytes() + (last + 1) * es};
}
bool same_view(const Tensor& a, const Tensor& b) {
  return a.buffer() == b.buffer() && a.offset_bytes() == b.offset_bytes() && a.dtype() == b.dtype() &&
         a.shape() == b.shape() && a.strides() == b.strides();
}
}  // namespace

void OpCall::no_overlap(const Tensor& out, const char* on, const Tensor& in, const char* in_name,
                        bool allow_same_view) const {
  if (out.buffer() != in.buffer() || out.numel() == 0 || in.numel() == 0) return;
  if (allow_same_view && same_view(out, in)) return;
  const auto a = byte_range(out);
  const auto b = byte_range(in);
  if (a.first < b.second && b.first < a.second)
    fail(Errc::invalid_argument,
         describe(on, out) + " overlaps " + describe(in_name, in) +
             (allow_same_view ? "; the output must be exactly the input's view (in place) or "
                                "not overlap it at all"
                              : "; this op needs an output separate from its inputs"));
}

void OpCall::finite(double v, const char* name) const {
  if (!std::isfinite(v))
    fail(Errc::invalid_argument, std::string(name) + " must be finite, got " + std::to_string(v));
}

void OpCall::supported(DType in, DType out) const {
  if (!dev_->backend().supports(kind_, in, out))
    fail(Errc::unsupported, std::string(dev_->label()) + " cannot run " + op_ + " with " + dtype_name(in) +
                                " -> " + dtype_name(out) +
                                "; check Device::info().dtypes or use another device");
}

backend::TensorArg OpCall::broadcast(const Tensor& t, const char* name, const Shape& shape) const {
  if (t.rank() > shape.rank)
    fail(Errc::shape_mismatch, describe(name, t) + " has more dims than the result " + shape.str());
  backend::TensorArg a = to_arg(t);
  a.rank = shape.rank;
  const int shift = shape.rank - t.rank();
  for (int i = shape.rank - 1; i >= 0; --i) {
    const int j = i - shift;
    const int64_t extent = j >= 0 ? t.shape()[j] : 1;
    const int64_t stride = j >= 0 ? t.strides()[j] : 0;
    if (extent != shape[i] && extent != 1)
      fail(Errc::shape_mismatch, describe(name, t) + " does not broadcast to " + shape.str() + " (dim " +
                                     std::to_string(i) + ": " + std::to_string(extent) + " vs " +
                                     std::to_string(shape[i]) + "); extents must match or be 1");
    a.shape[i] = shape[i];
    a.strides[i] = extent == 1 && shape[i] != 1 ? 0 : stride;
  }
  return a;
}

Tensor OpCall::input(const Tensor& t) {
  if (t.is_contiguous() || dev_->backend().accepts_strided(kind_)) return t;
  Tensor tmp = Tensor::empty(t.device(), t.dtype(), t.shape());
  ops::copy(stream_, t, tmp);
  use(tmp);
  log_debug_staging(op_, "input", t);
  keep_alive_.push_back(tmp);
  return tmp;
}

Tensor OpCall::output(const Tensor& t) {
  skip_if_empty(t);
  if (t.is_contiguous() || dev_->backend().accepts_strided(kind_)) return t;
  Tensor tmp = Tensor::empty(t.device(), t.dtype(), t.shape());
  ops::copy(stream_, t, tmp);  // ops reading their output (beta != 0, in-place) see its values
  use(tmp);
  log_debug_staging(op_, "output", t);
  copy_back_.emplace_back(tmp, t);
  return tmp;
}

void OpCall::finish() {
  for (auto& [tmp, dst] : copy_back_) ops::copy(stream_, tmp, dst);
  copy_back_.clear();
}

}  // namespace porta::detail
