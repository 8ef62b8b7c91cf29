// ops::quantize, ops::dequantize, ops::gemm and ops::embedding with quantized weights:
// validation and normalisation (leading dims merged) before the backend call.
#include <string>
#include <vector>

#include "core/validate.h"
#include "porta/ops.h"
#include "porta/quant.h"

namespace porta::ops {

using detail::OpCall;

namespace {

// Checks a weight operand: defined, on the stream's device, the device runs `kind` on
// its format with dtype `act`.
void check_weight(OpCall& call, const QuantWeight& w, const char* name, backend::Op kind, DType act) {
  if (!w.defined())
    call.fail(Errc::invalid_argument, std::string(name) + " is an undefined quantized weight");
  if (w.device() != call.stream().device())
    call.fail(Errc::device_mismatch, std::string(name) + " " + w.str() + " lives on " +
                                         w.device().description() + " but the stream runs on " +
                                         call.stream().device().description());
  if (!call.device().backend().supports_quant(kind, w.format(), act))
    call.fail(Errc::unsupported, call.device().label() + " cannot run " + call.op() + " on " + w.str() +
                                     " with " + dtype_name(act) +
                                     " data; check porta::supports_quant() or use another device");
}

backend::QuantWeightArg weight_arg(const QuantWeight& w, backend::TensorArg& zeros,
                                   backend::TensorArg& perm) {
  backend::QuantWeightArg a;
  a.format = w.format();
  a.group = w.scheme().group;
  a.n = w.n();
  a.k = w.k();
  a.codes = detail::to_arg(w.codes());
  a.scales = detail::to_arg(w.scales());
  if (w.zeros().defined()) {
    zeros = detail::to_arg(w.zeros());
    a.zeros = &zeros;
  }
  if (w.perm().defined()) {
    perm = detail::to_arg(w.perm());
    a.perm = &perm;
  }
  return a;
}

void no_overlap_weight(OpCall& call, const Tensor& out, const char* on, const QuantWeight& w) {
  call.no_overlap(out, on, w.codes(), "the weight's codes", false);
  call.no_overlap(out, on, w.scales(), "the weight's scales", false);
  if (w.zeros().defined()) call.no_overlap(out, on, w.zeros(), "the weight's zeros", false);
  if (w.perm().defined()) call.no_overlap(out, on, w.perm(), "the weight's perm", false);
}

/// t [..., cols] as a rank-2 [rows, cols] tensor: a view when its leading dims merge, else
/// a contiguous copy (copied back into t after the op when `is_output`).
Tensor as_rows(OpCall& call, const Tensor& t, bool is_output,
               std::vector<std::pair<Tensor, Tensor>>& copy_back) {
  const int64_t cols = t.dim(-1);
  const int64_t rows = t.numel() / (cols == 0 ? 1 : cols);
  if (t.rank() == 1) return t.reshape(Shape{1, cols});
  if (t.rank() == 2) return t;
  bool merges = true;
  for (int i = 0; i + 2 < t.rank(); ++i)
    if (t.dim(i) != 1 && t.stride(i) != t.stride(i + 1) * t.dim(i + 1)) merges = false;
  if (merges) {
    Shape sh{rows, cols}, st{t.stride(-2), t.stride(-1)};
    return t.view(sh, st, t.offset_bytes());
  }
  Tensor tmp = Tensor::empty(t.device(), t.dtype(), Shape{rows, cols});
  Tensor tmp_nd = tmp.reshape(t.shape());
  copy(call.stream(), t, tmp_nd);  // outputs too: beta != 0 reads them
  copy_back.emplace_back(tmp_nd, is_output ? t : Tensor());
  return tmp;
}

void finish_rows(Stream& s, std::vector<std::pair<Tensor, Tensor>>& copy_back) {
  for (auto& [tmp, dst] : copy_back)
    if (dst.defined()) copy(s, tmp, dst);
}

}  // namespace

void quantize(Stream& s, const Tensor& w, QuantWeight& out) {
  OpCall call("quantize", backend::Op::quantize, s);
  call.tensor(w, "w");
  call.rank_in(w, "w", 2, 2);
  call.floating(w, "w");
  check_weight(call, out, "out", backend::Op::quantize, w.dtype());
  if (w.dim(0) != out.n() || w.dim(1) != out.k())
    call.fail(Errc::shape_mismatch, "w " + w.str() + " does not match out " + out.str() + "; out must be [" +
                                        std::to_string(w.dim(0)) + ", " + std::to_string(w.dim(1)) + "]");
  if (out.perm().defined())
    call.fail(Errc::invalid_argument,
              "out " + out.str() +
                  " carries a permutation; quantize into a weight without one (act-order "
                  "permutations come from the GPTQ importer)");
  call.writable(out.codes(), "out codes");
  call.no_overlap(out.codes(), "out codes", w, "w", false);
  call.no_overlap(out.scales(), "out scales", w, "w", false);
  if (out.scheme().group == QuantScheme::kPerTensor && out.n() > 1 && out.scales().stride(0) == 0) {
    // one scale for all rows: the kernel writes it once
  } else {
    call.writable(out.scales(), "out scales");
  }
  backend::TensorArg zeros, perm;
  backend::QuantizeArgs a;
  a.w = detail::to_arg(call.input(w));
  a.out = weight_arg(out, zeros, perm);
  call.run([&](backend::Queue& q) { q.quantize(a); });
}

QuantWeight quantize(Stream& s, const Tensor& w, const QuantScheme& scheme) {
  if (!w.defined()) throw Error(Errc::invalid_argument, "quantize: w is an undefined tensor");
  if (w.rank() != 2)
    throw Error(Errc::shape_mismatch, "quantize: w " + w.str() + " must be a rank-2 [N, K] weight");
  QuantWeight out = QuantWeight::empty(w.device(), scheme, w.dim(0), w.dim(1));
  quantize(s, w, out);
  return out;
}

void dequantize(Stream& s, const QuantWeight& w, Tensor& out) {
  OpCall call("dequantize", backend::Op::dequantize, s);
  call.tensor(out, "out");
  call.floating(out, "out");
  check_weight(call, w, "w", backend::Op::dequantize, out.dtype());
  if (out.rank() != 2 || out.dim(0) != w.n() || out.dim(1) != w.k())
    call.fail(Errc::shape_mismatch, "out " + out.str() + " must be [" + std::to_string(w.n()) + ", " +
                                        std::to_string(w.k()) + "] for " + w.str());
  call.writable(out, "out");
  no_overlap_weight(call, out, "out", w);
  backend::TensorArg zeros, perm;
  backend::DequantizeArgs a;
  a.w = weight_arg(w, zeros, perm);
  a.out = detail::to_arg(call.output(out));
  call.run([&](backend::Queue& q) { q.dequantize(a); });
}

void gemm(Stream& s, const Tensor& a, const QuantWeight& w, Tensor& c, const QuantGemmOptions& opt) {
  OpCall call("gemm", backend::Op::gemm_quant, s);
  call.tensor(a, "A");
  call.tensor(c, "C");
  call.rank_in(a, "A", 1, 4);
  call.rank_in(c, "C", 1, 4);
  call.floating(a, "A");
  call.floating(c, "C");
  call.finite(opt.alpha, "alpha");
  call.finite(opt.beta, "beta");
  check_weight(call, w, "W", backend::Op::gemm_quant, a.dtype());
  check_weight(call, w, "W", backend::Op::gemm_quant, c.dtype());
  // Built only on failure: formatting the three descriptions took 4 % of a 2 x 4096 GEMV.
  const auto shapes = [&] { return "A " + a.str() + " x W " + w.str() + "ᵀ -> C " + c.str(); };
  if (a.dim(-1) != w.k())
    call.fail(Errc::shape_mismatch, shapes() + ": A's last dim must be K = " + std::to_string(w.k()) +
                                        " (the weight is [N, K], used as A·Wᵀ)");
  Shape want = a.shape();
  want[a.rank() - 1] = w.n();
  if (c.shape() != want) call.fail(Errc::shape_mismatch, shapes() + ": C must be " + want.str());
  call.writable(c, "C");
  call.no_overlap(c, "C", a, "A", false);
  no_overlap_weight(call, c, "C", w);
  if (opt.bias) {
    call.tensor(*opt.bias, "bias");
    call.floating(*opt.bias, "bias");
    if (opt.bias->rank() != 1 || opt.bias->dim(0) != w.n())
      call.fail(Errc::shape_mismatch,
                "bias " + opt.bias->str() + " must be [" + std::to_string(w.n()) + "] for " + shapes());
    call.no_overlap(c, "C", *opt.bias, "bias", false);
  }
  std::vector<std::pair<Tensor, Tensor>> copy_back;
  backend::TensorArg zeros, perm, bias;
  backend::QuantGemmArgs g;
  g.a = detail::to_arg(as_rows(call, a, false, copy_back));
  g.c = detail::to_arg(as_rows(call, c, true, copy_back));
  g.w = weight_arg(w, zeros, perm);
  if (opt.bias) {
    bias = detail::to_arg(*opt.bias);
    g.bias = &bias;
  }
  g.alpha = opt.alpha;
  g.beta = opt.beta;
  g.activation = opt.activation;
  call.run([&](backend::Queue& q) { q.gemm_quant(g); });
  finish_rows(s, copy_back);
}

void embedding(Stream& s, const QuantWeight& table, const Tensor& ids, Tensor& out) {
  OpCall call("embedding", backend::Op::embedding_quant, s);
  call.tensor(ids, "ids");
  call.tensor(out, "out");
  call.dtype_is(ids, "ids", DType::i32);
  call.rank_in(ids, "ids", 1, 3);
  call.floating(out, "out");
  check_weight(call, table, "table", backend::Op::embedding_quant, out.dtype());
  if (table.perm().defined())
    call.fail(
        Errc::invalid_argument,
        "table " + table.str() + " carries an act-order permutation; embedding tables are never act-ordered");
  Shape want;
  want.rank = ids.rank() + 1;
  for (int i = 0; i < ids.rank(); ++i) want[i] = ids.dim(i);
  want[ids.rank()] = table.k();
  if (out.shape() != want)
    call.fail(Errc::shape_mismatch, "out " + out.str() + " must be " + want.str() + " for ids " + ids.str() +
                                        " and table " + table.str());
  call.writable(out, "out");
  call.no_overlap(out, "out", ids, "ids", false);
  no_overlap_weight(call, out, "out", table);
  std::vector<std::pair<Tensor, Tensor>> copy_back;
  backend::TensorArg zeros, perm;
  backend::QuantEmbeddingArgs e;
  e.table = weight_arg(table, zeros, perm);
  Tensor flat_ids = ids;
  if (!ids.is_contiguous()) {
    flat_ids = Tensor::empty(ids.device(), DType::i32, ids.shape());
    copy(s, ids, flat_ids);
    copy_back.emplace_back(flat_ids, Tensor());  // keeps the staging copy alive
  }
  e.ids = detail::to_arg(flat_ids.reshape(Shape{ids.numel()}));
  e.out = detail::to_arg(as_rows(call, out, true, copy_back));
  call.run([&](backend::Queue& q) { q.embedding_quant(e); });
  finish_rows(s, copy_back);
}

}  // namespace porta::ops
