// The one place op calls are checked before they reach a backend. Every op builds an
// OpCall, checks its arguments through it (each failure a porta::Error that names the
// op, the tensors and the fix) and then dispatches through OpCall::run.
#pragma once

#include <string>
#include <vector>

#include "core/backend.h"
#include "core/impl.h"
#include "porta/ops.h"
#include "porta/tensor.h"

namespace porta::detail {

class OpCall {
 public:
  OpCall(const char* op, backend::Op kind, Stream& s);

  [[noreturn]] void fail(Errc code, const std::string& message) const;

  /// Defined and on the stream's device; marked as used by this call (core's lifetime rule).
  void tensor(const Tensor& t, const char* name) const;
  /// Marks a tensor the call passes to the backend without checking it (a staging copy).
  void use(const Tensor& t) const { t.buffer()->mark_use(stream_id_, seq_); }
  void rank_in(const Tensor& t, const char* name, int lo, int hi) const;
  void floating(const Tensor& t, const char* name) const;
  void dtype_is(const Tensor& t, const char* name, DType d) const;
  void same_dtype(const Tensor& a, const char* an, const Tensor& b, const char* bn) const;
  void same_shape(const Tensor& a, const char* an, const Tensor& b, const char* bn) const;
  /// `out` takes `in`'s dtype and shape, is writable, and is either `in` itself (in place) or
  /// separate from it; both are defined tensors on the stream's device.
  void same_as_input(const Tensor& in, const char* in_name, const Tensor& out, const char* out_name) const;
  /// Outputs may not write one element twice (zero stride on an extent > 1).
  void writable(const Tensor& out, const char* name) const;
  /// out may not overlap `in`, except being exactly the same view when allow_same_view.
  void no_overlap(const Tensor& out, const char* on, const Tensor& in, const char* in_name,
                  bool allow_same_view) const;
  void finite(double v, const char* name) const;
  /// Errc::unsupported when the device cannot run the op with these dtypes.
  void supported(DType in, DType out) const;

  /// `t` seen as rank `shape.rank` with shape `shape`, broadcasting size-1 or missing
  /// leading dims through zero strides (numpy rules).
  backend::TensorArg broadcast(const Tensor& t, const char* name, const Shape& shape) const;
  /// The tensor itself, or a contiguous copy when the device reads only contiguous data
  /// for this op (and the tensor is not contiguous).
  Tensor input(const Tensor& t);
  /// The output itself, or a contiguous temporary (holding the output's values) that is
  /// copied back after run(). An empty output (a zero extent) makes run() do nothing.
  Tensor output(const Tensor& t);
  /// run() does nothing when `t` has no elements: zero-size work is legal (engines meet
  /// empty steps) and never reaches a backend.
  void skip_if_empty(const Tensor& t) {
    if (t.numel() == 0) empty_ = true;
  }

  /// Calls into the backend (errors mapped, device_lost made sticky), then copies back staged outputs.
  template <typename Fn>
  void run(Fn&& fn) {
    if (empty_) return;
    dev_->call(op_, [&] {
      fn(*stream_.impl()->queue);
      return 0;
    });
    finish();
  }

  const char* op() const { return op_; }
  Stream& stream() const { return stream_; }
  DeviceImpl& device() const { return *dev_; }

 private:
  void finish();

  const char* op_;
  backend::Op kind_;
  Stream& stream_;
  DeviceImpl* dev_;
  uint64_t stream_id_ = 0, seq_ = 0;                  // this call's submission on the stream
  std::vector<Tensor> keep_alive_;                    // staged copies live until the call is enqueued
  std::vector<std::pair<Tensor, Tensor>> copy_back_;  // (temporary, destination)
  bool empty_ = false;                                // an output has no elements: nothing to run
};

/// Kernel view of a tensor, no checks.
backend::TensorArg to_arg(const Tensor& t);
/// "a f16[2, 3]" for messages.
std::string describe(const char* name, const Tensor& t);

}  // namespace porta::detail
