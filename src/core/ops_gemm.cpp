// ops::gemm: validation and normalisation to the rank-3 form backends see.
#include "core/validate.h"
#include "porta/ops.h"

namespace porta::ops {

using detail::OpCall;

namespace {

// The last two dims swapped, as a view (no copy).
Tensor swap_last(const Tensor& t) { return t.transpose(-1, -2); }

struct BatchDims {
  int count = 0;  // 0, 1 or 2 batch dims of C
  int64_t extent[2] = {1, 1};
};

}  // namespace

void gemm(Stream& s, const Tensor& a_in, const Tensor& b_in, Tensor& c, const GemmOptions& opt) {
  OpCall call("gemm", backend::Op::gemm, s);
  call.tensor(a_in, "A");
  call.tensor(b_in, "B");
  call.tensor(c, "C");
  call.rank_in(a_in, "A", 2, 4);
  call.rank_in(b_in, "B", 2, 4);
  call.rank_in(c, "C", 2, 4);
  call.floating(a_in, "A");
  if (b_in.defined() && b_in.dtype() == DType::i8)
    call.fail(Errc::dtype_mismatch, "B " + b_in.str() +
                                        " is i8; quantized weights (codes + scales) go through "
                                        "ops::gemm(stream, A, QuantWeight, C) from porta/quant.h");
  call.floating(b_in, "B");
  call.floating(c, "C");
  call.finite(opt.alpha, "alpha");
  call.finite(opt.beta, "beta");
  const Tensor a = opt.trans_a ? swap_last(a_in) : a_in;
  const Tensor b = opt.trans_b ? swap_last(b_in) : b_in;
  const int64_t M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  // Built only when a check fails: no string work on the success path.
  auto shapes = [&] { return "op(A) " + a.str() + " x op(B) " + b.str() + " -> C " + c.str(); };
  if (b.dim(-2) != K)
    call.fail(Errc::shape_mismatch, shapes() + ": inner dims differ (K = " + std::to_string(K) + " vs " +
                                        std::to_string(b.dim(-2)) + "); check trans_a/trans_b");
  if (c.dim(-2) != M || c.dim(-1) != N)
    call.fail(Errc::shape_mismatch,
              shapes() + ": C must be [..., " + std::to_string(M) + ", " + std::to_string(N) + "]");
  if (a.rank() > c.rank() || b.rank() > c.rank())
    call.fail(Errc::shape_mismatch, shapes() + ": A and B may not have more batch dims than C");
  if (K == 0 && c.numel() > 0)
    call.fail(Errc::shape_mismatch, shapes() + ": K = 0 (an empty inner dim) is not supported for a non-empty C; "
                                               "empty M or N (no output) is fine");
  call.writable(c, "C");
  call.no_overlap(c, "C", a_in, "A", false);
  call.no_overlap(c, "C", b_in, "B", false);
  if (opt.bias) {
    call.tensor(*opt.bias, "bias");
    call.floating(*opt.bias, "bias");
    if (opt.bias->rank() != 1 || opt.bias->dim(0) != N)
      call.fail(Errc::shape_mismatch,
                "bias " + opt.bias->str() + " must be [" + std::to_string(N) + "] for " + shapes());
    call.no_overlap(c, "C", *opt.bias, "bias", false);
  }
  call.supported(a.dtype(), c.dtype());
  call.supported(b.dtype(), c.dtype());

  // Broadcast A and B over C's batch dims (numpy rules on the leading dims).
  // Broadcast from the (possibly staged) tensors.
  const backend::TensorArg ca = detail::to_arg(call.output(c));
  const backend::TensorArg aa = call.broadcast(call.input(a), "A", [&] {
    Shape sh = c.shape();
    sh[c.rank() - 2] = M;
    sh[c.rank() - 1] = K;
    return sh;
  }());
  const backend::TensorArg ba = call.broadcast(call.input(b), "B", [&] {
    Shape sh = c.shape();
    sh[c.rank() - 2] = K;
    sh[c.rank() - 1] = N;
    return sh;
  }());

  BatchDims batch;
  batch.count = c.rank() - 2;
  for (int i = 0; i < batch.count; ++i) batch.extent[i] = c.shape()[i];

  // Rank-3 views for one slice `outer` of a two-level batch, or the merged batch.
  auto to3 = [](const backend::TensorArg& t, int batch_count, bool merge, int64_t outer) {
    backend::TensorArg r = t;
    r.rank = 3;
    const int64_t es = static_cast<int64_t>(dtype_size(t.dtype));
    if (batch_count == 0) {
      r.shape[0] = 1;
      r.strides[0] = 0;
    } else if (batch_count == 1) {
      r.shape[0] = t.shape[0];
      r.strides[0] = t.strides[0];
    } else if (merge) {
      r.shape[0] = t.shape[0] * t.shape[1];
      r.strides[0] = t.strides[1];
    } else {
      r.offset = t.offset + outer * t.strides[0] * es;
      r.shape[0] = t.shape[1];
      r.strides[0] = t.strides[1];
    }
    const int base = t.rank - 2;
    r.shape[1] = t.shape[base];
    r.shape[2] = t.shape[base + 1];
    r.strides[1] = t.strides[base];
    r.strides[2] = t.strides[base + 1];
    return r;
  };
  bool merge = true;
  if (batch.count == 2) {
    for (const auto* t : {&aa, &ba, &ca})
      if (t->strides[0] != t->strides[1] * batch.extent[1]) merge = false;
  }
  const int64_t outer_count = batch.count == 2 && !merge ? batch.extent[0] : 1;

  backend::TensorArg bias_arg;
  if (opt.bias) bias_arg = detail::to_arg(call.input(*opt.bias));
  call.run([&](backend::Queue& q) {
    for (int64_t outer = 0; outer < outer_count; ++outer) {
      backend::GemmArgs g;
      g.a = to3(aa, batch.count, merge, outer);
      g.b = to3(ba, batch.count, merge, outer);
      g.c = to3(ca, batch.count, merge, outer);
      g.bias = opt.bias ? &bias_arg : nullptr;
      g.alpha = opt.alpha;
      g.beta = opt.beta;
      g.activation = opt.activation;
      q.gemm(g);
    }
  });
}

}  // namespace porta::ops
