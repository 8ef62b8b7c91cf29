// Element-wise ops: silu_mul, gelu, add, mul, scale, cast, copy, fill.
#include <cmath>

#include "core/validate.h"
#include "porta/ops.h"

namespace porta::ops {

using detail::OpCall;

namespace {

void binary(const char* op, backend::Op kind, backend::Elementwise ew, Stream& s, const Tensor& a,
            const char* an, const Tensor& b, const char* bn, Tensor& out) {
  OpCall call(op, kind, s);
  call.tensor(a, an);
  call.tensor(b, bn);
  call.tensor(out, "out");
  call.floating(a, an);
  call.same_dtype(a, an, b, bn);
  call.same_dtype(a, an, out, "out");
  call.writable(out, "out");
  call.no_overlap(out, "out", a, an, true);
  call.no_overlap(out, "out", b, bn, true);
  call.supported(a.dtype(), out.dtype());
  backend::ElementwiseArgs e;
  e.kind = ew;
  e.a = call.broadcast(call.input(a), an, out.shape());
  e.b = call.broadcast(call.input(b), bn, out.shape());
  e.out = detail::to_arg(call.output(out));
  call.run([&](backend::Queue& q) { q.elementwise(e); });
}

void unary(const char* op, backend::Op kind, backend::Elementwise ew, Stream& s, const Tensor& x, Tensor& out,
           float alpha, bool same_dtype) {
  OpCall call(op, kind, s);
  call.tensor(x, "x");
  call.tensor(out, "out");
  if (same_dtype) call.same_dtype(x, "x", out, "out");
  if (kind != backend::Op::cast && kind != backend::Op::copy) call.floating(x, "x");
  call.same_shape(x, "x", out, "out");
  call.writable(out, "out");
  call.no_overlap(out, "out", x, "x", kind != backend::Op::cast || x.dtype() == out.dtype());
  call.supported(x.dtype(), out.dtype());
  backend::ElementwiseArgs e;
  e.kind = ew;
  e.a = detail::to_arg(call.input(x));
  e.out = detail::to_arg(call.output(out));
  e.alpha = alpha;
  call.run([&](backend::Queue& q) { q.elementwise(e); });
}

}  // namespace

void silu_mul(Stream& s, const Tensor& gate, const Tensor& up, Tensor& out) {
  binary("silu_mul", backend::Op::silu_mul, backend::Elementwise::silu_mul, s, gate, "gate", up, "up", out);
}
void add(Stream& s, const Tensor& a, const Tensor& b, Tensor& out) {
  binary("add", backend::Op::add, backend::Elementwise::add, s, a, "a", b, "b", out);
}
void mul(Stream& s, const Tensor& a, const Tensor& b, Tensor& out) {
  binary("mul", backend::Op::mul, backend::Elementwise::mul, s, a, "a", b, "b", out);
}
void gelu(Stream& s, const Tensor& x, Tensor& out, bool approximate) {
  unary("gelu", backend::Op::gelu,
        approximate ? backend::Elementwise::gelu_tanh : backend::Elementwise::gelu_erf, s, x, out, 1.0f,
        true);
}
void scale(Stream& s, const Tensor& x, float alpha, Tensor& out) {
  if (!std::isfinite(alpha))
    throw Error(Errc::invalid_argument, "scale: alpha must be finite, got " + std::to_string(alpha));
  unary("scale", backend::Op::scale, backend::Elementwise::scale, s, x, out, alpha, true);
}
void cast(Stream& s, const Tensor& x, Tensor& out) {
  unary("cast", backend::Op::cast, backend::Elementwise::cast, s, x, out, 1.0f, false);
}
void copy(Stream& s, const Tensor& src, Tensor& dst) {
  OpCall call("copy", backend::Op::copy, s);
  call.same_as_input(src, "src", dst, "dst");
  call.supported(src.dtype(), dst.dtype());
  backend::ElementwiseArgs e;
  e.kind = backend::Elementwise::copy;
  // copy is the op core stages other ops through, so every backend takes any strides here.
  e.a = detail::to_arg(src);
  e.out = detail::to_arg(dst);
  call.skip_if_empty(dst);
  call.run([&](backend::Queue& q) { q.elementwise(e); });
}

void fill(Stream& s, Tensor& dst, double value) {
  OpCall call("fill", backend::Op::fill, s);
  call.tensor(dst, "dst");
  call.writable(dst, "dst");
  if (!is_floating(dst.dtype()) && !std::isfinite(value))
    call.fail(Errc::invalid_argument, "value " + std::to_string(value) + " cannot be stored in " + dst.str() +
                                          "; integer tensors take finite values");
  call.supported(dst.dtype(), dst.dtype());
  backend::FillArgs f;
  f.dst = detail::to_arg(call.output(dst));
  f.value = value;
  call.run([&](backend::Queue& q) { q.fill(f); });
}

}  // namespace porta::ops
