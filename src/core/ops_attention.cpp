// ops::attention: validation (layout, GQA, head dims, kv_lens) and dispatch.
#include <cmath>

#include "core/validate.h"
#include "porta/ops.h"

namespace porta::ops {

using detail::OpCall;

void attention(Stream& s, const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
               const AttentionOptions& opt) {
  OpCall call("attention", backend::Op::attention, s);
  for (auto [t, n] : {std::pair<const Tensor*, const char*>{&q, "q"}, {&k, "k"}, {&v, "v"}, {&out, "out"}}) {
    call.tensor(*t, n);
    call.rank_in(*t, n, 4, 4);
    call.floating(*t, n);
  }
  call.same_dtype(q, "q", k, "k");
  call.same_dtype(q, "q", v, "v");
  call.same_dtype(q, "q", out, "out");
  const int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3);
  // Built only when a check fails: no string work on the success path.
  auto shapes = [&] { return "q " + q.str() + ", k " + k.str() + ", v " + v.str() + ", out " + out.str(); };
  if (k.dim(0) != B || k.dim(3) != D)
    call.fail(Errc::shape_mismatch, shapes() + ": k must be [B=" + std::to_string(B) +
                                        ", Hkv, Skv, D=" + std::to_string(D) +
                                        "] (layout [B, H, S, D]; pass [B, S, H, D] caches as "
                                        "transpose(1, 2) views)");
  if (v.shape() != k.shape()) call.fail(Errc::shape_mismatch, shapes() + ": v must have k's shape");
  if (out.shape() != q.shape()) call.fail(Errc::shape_mismatch, shapes() + ": out must have q's shape");
  const int64_t Hkv = k.dim(1);
  if (Hq % Hkv != 0)
    call.fail(Errc::shape_mismatch, shapes() + ": query heads (" + std::to_string(Hq) +
                                        ") must be a multiple of key/value heads (" + std::to_string(Hkv) +
                                        ")");
  if (D != 64 && D != 80 && D != 96 && D != 128 && D != 256)
    call.fail(Errc::unsupported, shapes() + ": head dim " + std::to_string(D) +
                                     " is not supported; supported head dims are 64, 80, 96, 128, 256");
  if (k.dim(2) == 0 && out.numel() > 0)
    call.fail(Errc::shape_mismatch, shapes() + ": the KV sequence is empty (Skv = 0); pass kv_lens of 0 over a "
                                             "non-empty cache for rows that see no key");
  float scale = opt.scale;
  if (std::isnan(scale)) scale = 1.0f / std::sqrt(static_cast<float>(D));
  call.finite(scale, "scale");
  call.writable(out, "out");
  call.no_overlap(out, "out", q, "q", false);
  call.no_overlap(out, "out", k, "k", false);
  call.no_overlap(out, "out", v, "v", false);
  backend::TensorArg lens;
  if (opt.kv_lens) {
    call.tensor(*opt.kv_lens, "kv_lens");
    call.dtype_is(*opt.kv_lens, "kv_lens", DType::i32);
    if (opt.kv_lens->rank() != 1 || opt.kv_lens->dim(0) != B)
      call.fail(Errc::shape_mismatch, "kv_lens " + opt.kv_lens->str() + " must be i32[" + std::to_string(B) +
                                          "], one valid KV length per batch entry of " + shapes());
    call.no_overlap(out, "out", *opt.kv_lens, "kv_lens", false);
    lens = detail::to_arg(call.input(*opt.kv_lens));
  }
  call.supported(q.dtype(), out.dtype());

  backend::AttentionArgs a;
  a.q = detail::to_arg(call.input(q));
  a.k = detail::to_arg(call.input(k));
  a.v = detail::to_arg(call.input(v));
  a.out = detail::to_arg(call.output(out));
  a.kv_lens = opt.kv_lens ? &lens : nullptr;
  a.causal = opt.causal;
  a.scale = scale;
  (void)Sq;
  call.run([&](backend::Queue& queue) { queue.attention(a); });
}

}  // namespace porta::ops
