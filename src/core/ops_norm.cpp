// Row-wise ops over the last dim: rms_norm, layer_norm, softmax; and rope.
#include <cmath>

#include "core/validate.h"
#include "porta/ops.h"

namespace porta::ops {

using detail::OpCall;

namespace {

void check_row_op(OpCall& call, const Tensor& x, Tensor& out) {
  call.same_as_input(x, "x", out, "out");
  call.floating(x, "x");
  call.supported(x.dtype(), out.dtype());
}

void check_vector(OpCall& call, const Tensor& w, const char* name, const Tensor& x, Tensor& out) {
  call.tensor(w, name);
  call.floating(w, name);
  if (w.rank() != 1 || w.dim(0) != x.dim(-1))
    call.fail(Errc::shape_mismatch, detail::describe(name, w) + " must be [" + std::to_string(x.dim(-1)) +
                                        "], the last dim of x " + x.str());
  call.no_overlap(out, "out", w, name, false);
}

void norm(const char* op, backend::Op kind, Stream& s, const Tensor& x, const Tensor& weight,
          const Tensor* bias, Tensor& out, float eps) {
  OpCall call(op, kind, s);
  check_row_op(call, x, out);
  check_vector(call, weight, "weight", x, out);
  if (bias) check_vector(call, *bias, "bias", x, out);
  call.finite(eps, "eps");
  if (eps < 0) call.fail(Errc::invalid_argument, "eps must be >= 0, got " + std::to_string(eps));
  backend::NormArgs a;
  a.x = detail::to_arg(call.input(x));
  a.weight = detail::to_arg(call.input(weight));
  backend::TensorArg b;
  if (bias) b = detail::to_arg(call.input(*bias));
  a.bias = bias ? &b : nullptr;
  a.out = detail::to_arg(call.output(out));
  a.eps = eps;
  call.run([&](backend::Queue& q) {
    if (kind == backend::Op::rms_norm)
      q.rms_norm(a);
    else
      q.layer_norm(a);
  });
}

}  // namespace

void rms_norm(Stream& s, const Tensor& x, const Tensor& weight, Tensor& out, float eps) {
  norm("rms_norm", backend::Op::rms_norm, s, x, weight, nullptr, out, eps);
}

void layer_norm(Stream& s, const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& out,
                float eps) {
  norm("layer_norm", backend::Op::layer_norm, s, x, weight, bias, out, eps);
}

void softmax(Stream& s, const Tensor& x, Tensor& out, float scale, const Tensor* mask) {
  OpCall call("softmax", backend::Op::softmax, s);
  check_row_op(call, x, out);
  call.finite(scale, "scale");
  backend::SoftmaxArgs a;
  backend::TensorArg m;
  if (mask) {
    call.tensor(*mask, "mask");
    call.floating(*mask, "mask");
    call.no_overlap(out, "out", *mask, "mask", false);
    m = call.broadcast(call.input(*mask), "mask", x.shape());
  }
  a.x = detail::to_arg(call.input(x));
  a.out = detail::to_arg(call.output(out));
  a.mask = mask ? &m : nullptr;
  a.scale = scale;
  call.run([&](backend::Queue& q) { q.softmax(a); });
}

// Packed tokens [T, H, D] seen as [1, H, T, D] (a view: the kernels' layout, staged like any
// strided tensor for backends that read only contiguous data).
static Tensor as_heads_first(const Tensor& t) {
  return t.view(Shape{1, t.dim(1), t.dim(0), t.dim(2)}, Shape{0, t.stride(1), t.stride(0), t.stride(2)},
                t.offset_bytes());
}

void rope(Stream& s, const Tensor& x, const Tensor& positions, Tensor& out, const RopeOptions& opt) {
  OpCall call("rope", backend::Op::rope, s);
  check_row_op(call, x, out);
  call.rank_in(x, "x", 3, 4);
  call.tensor(positions, "positions");
  call.dtype_is(positions, "positions", DType::i32);
  // Packed tokens [T, H, D] (a serving batch) run as [1, H, T, D] through strides.
  const bool packed = x.rank() == 3;
  const int64_t B = packed ? 1 : x.dim(0), S = packed ? x.dim(0) : x.dim(2), D = x.dim(-1);
  const bool shared = positions.rank() == 1 && positions.dim(0) == S;
  const bool per_batch = !packed && positions.rank() == 2 && positions.dim(0) == B && positions.dim(1) == S;
  if (packed && !shared)
    call.fail(Errc::shape_mismatch, "positions " + positions.str() + " must be i32[" + std::to_string(S) +
                                        "], one position per token, for packed x " + x.str() +
                                        " (layout [T, H, D])");
  if (!shared && !per_batch)
    call.fail(Errc::shape_mismatch, "positions " + positions.str() + " must be i32[" + std::to_string(S) +
                                        "] or i32[" + std::to_string(B) + ", " + std::to_string(S) +
                                        "] for x " + x.str() + " (layout [B, H, S, D])");
  const int rot = opt.rotary_dim == 0 ? static_cast<int>(D) : opt.rotary_dim;
  if (rot <= 0 || rot > D || rot % 2 != 0)
    call.fail(Errc::invalid_argument, "rotary_dim " + std::to_string(opt.rotary_dim) +
                                          " must be even and in (0, " + std::to_string(D) + "] for x " +
                                          x.str() + " (0 means all of D)");
  call.finite(opt.theta, "theta");
  if (opt.theta <= 0)
    call.fail(Errc::invalid_argument, "theta must be > 0, got " + std::to_string(opt.theta));
  if (!opt.freq_factors.empty()) {
    if (static_cast<int>(opt.freq_factors.size()) != rot / 2)
      call.fail(Errc::invalid_argument, "freq_factors has " + std::to_string(opt.freq_factors.size()) +
                                            " entries; it needs rotary_dim/2 = " + std::to_string(rot / 2) +
                                            " (one per rotated pair) or none");
    for (float f : opt.freq_factors)
      if (!(f > 0) || !std::isfinite(f))
        call.fail(Errc::invalid_argument,
                  "freq_factors must be positive and finite, got " + std::to_string(f));
  }
  call.no_overlap(out, "out", positions, "positions", false);
  backend::RopeArgs a;
  a.x = detail::to_arg(call.input(packed ? as_heads_first(x) : x));
  a.out = detail::to_arg(call.output(packed ? as_heads_first(out) : out));
  const Tensor pos = call.input(positions);
  a.positions = detail::to_arg(pos);
  if (shared) {
    a.positions.rank = 2;
    a.positions.shape[0] = B;
    a.positions.shape[1] = S;
    a.positions.strides[1] = pos.strides()[0];
    a.positions.strides[0] = 0;
  }
  a.style = opt.style;
  a.theta = opt.theta;
  a.rotary_dim = rot;
  a.freq_factors = opt.freq_factors.empty() ? nullptr : opt.freq_factors.data();
  call.run([&](backend::Queue& q) { q.rope(a); });
}

}  // namespace porta::ops
