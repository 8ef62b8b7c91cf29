// embedding (row gather) and argmax (row reduction to an index).
#include "core/validate.h"
#include "porta/ops.h"

namespace porta::ops {

using detail::OpCall;

namespace {

// Merges dims [0, rank - keep) into one; false when the strides do not chain. Dims of
// extent 1 take no part: their strides are arbitrary (a [8, 1, 1] view may have strides
// [4, 4, 1]; the merged dim then has stride 4, not the last dim's 1).
bool merge_leading(backend::TensorArg& t, int keep) {
  const int lead = t.rank - keep;
  int64_t extent = 1;
  for (int i = 0; i < lead; ++i) extent *= t.shape[i];
  int64_t stride = lead > 0 ? t.strides[lead - 1] : 0, expect = 0;
  bool inner_found = false;
  for (int i = lead - 1; i >= 0; --i) {
    if (t.shape[i] == 1) continue;
    if (!inner_found) {
      stride = t.strides[i];
      inner_found = true;
    } else if (t.strides[i] != expect) {
      return false;
    }
    expect = t.strides[i] * t.shape[i];
  }
  backend::TensorArg r = t;
  r.rank = keep + 1;
  r.shape[0] = extent;
  r.strides[0] = stride;
  for (int i = 0; i < keep; ++i) {
    r.shape[1 + i] = t.shape[lead + i];
    r.strides[1 + i] = t.strides[lead + i];
  }
  for (int i = r.rank; i < 4; ++i) {
    r.shape[i] = 1;
    r.strides[i] = 0;
  }
  t = r;
  return true;
}

// A flattened view of `t` (leading dims merged, `keep` trailing dims kept); a contiguous
// staging copy when its strides do not allow it. Outputs are copied back after the op.
backend::TensorArg flattened(OpCall& call, const Tensor& t, int keep, bool is_output,
                             std::vector<std::pair<Tensor, Tensor>>& copy_back) {
  Tensor use = is_output ? call.output(t) : call.input(t);
  backend::TensorArg a = detail::to_arg(use);
  if (merge_leading(a, keep)) return a;
  Tensor tmp = Tensor::empty(t.device(), t.dtype(), t.shape());
  if (is_output)
    copy_back.emplace_back(tmp, use);
  else
    copy(call.stream(), use, tmp);
  call.use(tmp);
  a = detail::to_arg(tmp);
  merge_leading(a, keep);
  copy_back.emplace_back(tmp, Tensor());  // keeps an input staging buffer alive until the op is enqueued
  return a;
}

void finish(Stream& s, std::vector<std::pair<Tensor, Tensor>>& copy_back) {
  for (auto& [tmp, dst] : copy_back)
    if (dst.defined()) copy(s, tmp, dst);
}

}  // namespace

void embedding(Stream& s, const Tensor& table, const Tensor& ids, Tensor& out) {
  OpCall call("embedding", backend::Op::embedding, s);
  call.tensor(table, "table");
  call.tensor(ids, "ids");
  call.tensor(out, "out");
  call.rank_in(table, "table", 2, 2);
  call.dtype_is(ids, "ids", DType::i32);
  call.rank_in(ids, "ids", 1, 3);
  call.same_dtype(table, "table", out, "out");
  Shape want;
  want.rank = ids.rank() + 1;
  for (int i = 0; i < ids.rank(); ++i) want[i] = ids.dim(i);
  want[ids.rank()] = table.dim(1);
  if (out.shape() != want)
    call.fail(Errc::shape_mismatch, "out " + out.str() + " must be " + want.str() + " for ids " + ids.str() +
                                        " and table " + table.str());
  call.writable(out, "out");
  call.no_overlap(out, "out", table, "table", false);
  call.no_overlap(out, "out", ids, "ids", false);
  if (table.dim(0) == 0 && out.numel() > 0)
    call.fail(Errc::shape_mismatch, "table " + table.str() + " has no rows to gather for ids " + ids.str());
  call.supported(table.dtype(), out.dtype());
  std::vector<std::pair<Tensor, Tensor>> copy_back;
  backend::EmbeddingArgs e;
  e.table = detail::to_arg(call.input(table));
  e.ids = flattened(call, ids, 0, false, copy_back);
  e.out = flattened(call, out, 1, true, copy_back);
  call.run([&](backend::Queue& q) { q.embedding(e); });
  finish(s, copy_back);
}

void argmax(Stream& s, const Tensor& x, Tensor& out) {
  OpCall call("argmax", backend::Op::argmax, s);
  call.tensor(x, "x");
  call.tensor(out, "out");
  call.dtype_is(out, "out", DType::i32);
  Shape want;
  if (x.rank() == 1) {
    want = Shape{1};
  } else {
    want.rank = x.rank() - 1;
    for (int i = 0; i < want.rank; ++i) want[i] = x.dim(i);
  }
  if (out.shape() != want)
    call.fail(Errc::shape_mismatch, "out " + out.str() + " must be i32" + want.str() + " for x " + x.str() +
                                        " (one index per row of the last dim)");
  call.writable(out, "out");
  call.no_overlap(out, "out", x, "x", false);
  if (x.dim(-1) == 0 && out.numel() > 0)
    call.fail(Errc::shape_mismatch, "x " + x.str() + " has empty rows: argmax needs at least one element per row");
  call.supported(x.dtype(), out.dtype());
  std::vector<std::pair<Tensor, Tensor>> copy_back;
  backend::ArgmaxArgs a;
  if (x.rank() == 1) {
    a.x = detail::to_arg(call.input(x));
    a.x.rank = 2;
    a.x.shape[1] = a.x.shape[0];
    a.x.strides[1] = a.x.strides[0];
    a.x.shape[0] = 1;
    a.x.strides[0] = 0;
  } else {
    a.x = flattened(call, x, 1, false, copy_back);
  }
  a.out = flattened(call, out, 0, true, copy_back);
  call.run([&](backend::Queue& q) { q.argmax(a); });
  finish(s, copy_back);
}

}  // namespace porta::ops
