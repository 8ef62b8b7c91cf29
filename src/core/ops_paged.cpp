// The serving ops (porta/serving.h): kv_cache_write, copy_blocks, paged_attention.
// Validation and dispatch; device-resident values (slots, ids, lengths) are the kernels' to clamp.
#include <cmath>

#include "core/validate.h"
#include "porta/serving.h"

namespace porta {

const char* kv_cache_format_name(KvCacheFormat f) noexcept {
  switch (f) {
    case KvCacheFormat::plain: return "plain";
    case KvCacheFormat::int8: return "int8";
    case KvCacheFormat::fp8_e4m3fn: return "fp8_e4m3fn";
  }
  return "?";
}

namespace ops {

using detail::OpCall;

namespace {

bool head_dim_ok(int64_t D) { return D == 64 || D == 80 || D == 96 || D == 128 || D == 256; }

std::string cache_str(const KvCache& c) {
  return std::string("cache (") + kv_cache_format_name(c.format) + ") k " + c.k.str() + ", v " + c.v.str();
}

// Shapes, dtypes and scales of a cache; `written`: the op stores into it.
void check_cache(OpCall& call, const KvCache& c, bool written) {
  call.tensor(c.k, "cache.k");
  call.tensor(c.v, "cache.v");
  call.rank_in(c.k, "cache.k", 4, 4);
  call.same_shape(c.k, "cache.k", c.v, "cache.v");
  call.same_dtype(c.k, "cache.k", c.v, "cache.v");
  // Descriptions are built only on failure (every call validates; decode calls are short).
  const auto cs = [&] { return cache_str(c); };
  const int64_t bs = c.k.dim(1);
  if (bs != 16 && bs != 32 && bs != 64)
    call.fail(Errc::unsupported, cs() + ": block size " + std::to_string(bs) +
                                     " (dim 1 of [num_blocks, block_size, Hkv, D]) is not supported; "
                                     "use 16, 32 or 64");
  if (c.k.stride(3) != 1 || c.v.stride(3) != 1)
    call.fail(Errc::invalid_argument, cs() +
                                          ": the head dim (dim 3) must have unit stride; other dims may be "
                                          "strided (a head-major cache is a transpose(1, 2) view)");
  if (c.format == KvCacheFormat::plain) {
    call.floating(c.k, "cache.k");
  } else {
    if (c.k.dtype() != DType::i8)
      call.fail(Errc::dtype_mismatch,
                cs() + ": an " + kv_cache_format_name(c.format) + " cache holds its codes in i8 tensors");
  }
  if (c.format == KvCacheFormat::int8) {
    const Shape want{c.k.dim(0), bs, c.k.dim(2)};
    for (auto [t, n] : {std::pair<const Tensor*, const char*>{&c.k_scales, "cache.k_scales"},
                        {&c.v_scales, "cache.v_scales"}}) {
      if (!t->defined())
        call.fail(Errc::invalid_argument, cs() + ": an int8 cache needs " + n + ", f32" + want.str());
      call.tensor(*t, n);
      call.dtype_is(*t, n, DType::f32);
      if (t->shape() != want)
        call.fail(Errc::shape_mismatch, cs() + ": " + detail::describe(n, *t) + " must be f32" + want.str() +
                                            " (one scale per block slot and kv head)");
      if (written) call.writable(*t, n);
    }
    call.no_overlap(c.k_scales, "cache.k_scales", c.v_scales, "cache.v_scales", false);
    for (const Tensor* s : {&c.k_scales, &c.v_scales}) {
      call.no_overlap(*s, "cache scales", c.k, "cache.k", false);
      call.no_overlap(*s, "cache scales", c.v, "cache.v", false);
    }
  }
  if (c.format == KvCacheFormat::fp8_e4m3fn) {
    call.finite(c.k_scale, "cache.k_scale");
    call.finite(c.v_scale, "cache.v_scale");
    if (!(c.k_scale > 0) || !(c.v_scale > 0))
      call.fail(Errc::invalid_argument, cs() + ": fp8 scales must be > 0, got k_scale " +
                                            std::to_string(c.k_scale) + ", v_scale " +
                                            std::to_string(c.v_scale));
  }
  if (written) {
    call.writable(c.k, "cache.k");
    call.writable(c.v, "cache.v");
    call.no_overlap(c.k, "cache.k", c.v, "cache.v", false);
  }
}

backend::KvCacheArg cache_arg(const KvCache& c) {
  backend::KvCacheArg a;
  a.k = detail::to_arg(c.k);
  a.v = detail::to_arg(c.v);
  a.format = c.format;
  if (c.format == KvCacheFormat::int8) {
    a.k_scales = detail::to_arg(c.k_scales);
    a.v_scales = detail::to_arg(c.v_scales);
  }
  a.k_scale = c.k_scale;
  a.v_scale = c.v_scale;
  return a;
}

// Inputs that must not alias anything the op writes.
void no_overlap_cache(OpCall& call, const KvCache& c, const Tensor& in, const char* name) {
  call.no_overlap(c.k, "cache.k", in, name, false);
  call.no_overlap(c.v, "cache.v", in, name, false);
  if (c.format == KvCacheFormat::int8) {
    call.no_overlap(c.k_scales, "cache.k_scales", in, name, false);
    call.no_overlap(c.v_scales, "cache.v_scales", in, name, false);
  }
}

void index_dtype(OpCall& call, const Tensor& t, const char* name) {
  if (t.dtype() != DType::i32 && t.dtype() != DType::i64)
    call.fail(Errc::dtype_mismatch, detail::describe(name, t) + " must be i32 or i64");
}

}  // namespace

void kv_cache_write(Stream& s, const Tensor& k, const Tensor& v, const Tensor& slots, KvCache& cache) {
  OpCall call("kv_cache_write", backend::Op::kv_cache_write, s);
  check_cache(call, cache, true);
  for (auto [t, n] : {std::pair<const Tensor*, const char*>{&k, "k"}, {&v, "v"}}) {
    call.tensor(*t, n);
    call.rank_in(*t, n, 3, 3);
    call.floating(*t, n);
    no_overlap_cache(call, cache, *t, n);
  }
  call.same_dtype(k, "k", v, "v");
  call.same_shape(k, "k", v, "v");
  const int64_t T = k.dim(0), Hkv = cache.k.dim(2), D = cache.k.dim(3);
  const auto shapes = [&] {
    return "k " + k.str() + ", v " + v.str() + ", slots " + slots.str() + ", " + cache_str(cache);
  };
  if (k.dim(1) != Hkv || k.dim(2) != D)
    call.fail(Errc::shape_mismatch, shapes() + ": k and v must be [T, Hkv=" + std::to_string(Hkv) +
                                        ", D=" + std::to_string(D) + "], the cache's heads and head dim");
  call.tensor(slots, "slots");
  index_dtype(call, slots, "slots");
  if (slots.rank() != 1 || slots.dim(0) != T)
    call.fail(Errc::shape_mismatch,
              shapes() + ": slots must be [T=" + std::to_string(T) +
                  "], one cache slot (block * block_size + offset, -1: skip) per token");
  no_overlap_cache(call, cache, slots, "slots");
  call.supported(k.dtype(), cache.k.dtype());
  call.skip_if_empty(k);
  backend::KvCacheWriteArgs a;
  a.k = detail::to_arg(call.input(k));
  a.v = detail::to_arg(call.input(v));
  a.slots = detail::to_arg(call.input(slots));
  a.cache = cache_arg(cache);
  call.run([&](backend::Queue& q) { q.kv_cache_write(a); });
}

void copy_blocks(Stream& s, KvCache& cache, const Tensor& mapping) {
  OpCall call("copy_blocks", backend::Op::copy_blocks, s);
  check_cache(call, cache, true);
  call.tensor(mapping, "mapping");
  index_dtype(call, mapping, "mapping");
  if (mapping.rank() != 2 || mapping.dim(1) != 2)
    call.fail(Errc::shape_mismatch, "mapping " + mapping.str() +
                                        " must be [N, 2]: (source, destination) block "
                                        "ids of " +
                                        cache_str(cache));
  no_overlap_cache(call, cache, mapping, "mapping");
  call.supported(cache.k.dtype(), cache.k.dtype());
  call.skip_if_empty(mapping);
  backend::CopyBlocksArgs a;
  a.cache = cache_arg(cache);
  a.mapping = detail::to_arg(call.input(mapping));
  call.run([&](backend::Queue& q) { q.copy_blocks(a); });
}

void paged_attention(Stream& s, const Tensor& q, const KvCache& cache, const Tensor& block_tables,
                     const Tensor& cu_seqlens_q, const Tensor& seq_lens, int64_t max_seqlen_q,
                     int64_t max_seqlen_k, Tensor& out, const PagedAttentionOptions& opt) {
  OpCall call("paged_attention", backend::Op::paged_attention, s);
  check_cache(call, cache, false);
  call.tensor(q, "q");
  call.rank_in(q, "q", 3, 3);
  call.floating(q, "q");
  call.same_as_input(q, "q", out, "out");
  call.no_overlap(out, "out", q, "q", false);
  const int64_t T = q.dim(0), Hq = q.dim(1), D = q.dim(2);
  const int64_t nb = cache.k.dim(0), bs = cache.k.dim(1), Hkv = cache.k.dim(2);
  const auto shapes = [&] { return "q " + q.str() + ", " + cache_str(cache); };
  if (cache.k.dim(3) != D)
    call.fail(Errc::shape_mismatch, shapes() + ": the cache's head dim (" + std::to_string(cache.k.dim(3)) +
                                        ") must equal q's (" + std::to_string(D) + ")");
  if (Hkv == 0 || Hq % Hkv != 0)
    call.fail(Errc::shape_mismatch, shapes() + ": query heads (" + std::to_string(Hq) +
                                        ") must be a multiple of the cache's key/value heads (" +
                                        std::to_string(Hkv) + ")");
  if (!head_dim_ok(D))
    call.fail(Errc::unsupported, shapes() + ": head dim " + std::to_string(D) +
                                     " is not supported; supported head dims are 64, 80, 96, 128, 256");
  if (cache.format == KvCacheFormat::plain && cache.k.dtype() != q.dtype())
    call.fail(Errc::dtype_mismatch, shapes() + ": q and a plain cache must have the same dtype");
  for (auto [t, n] : {std::pair<const Tensor*, const char*>{&block_tables, "block_tables"},
                      {&cu_seqlens_q, "cu_seqlens_q"},
                      {&seq_lens, "seq_lens"}}) {
    call.tensor(*t, n);
    call.dtype_is(*t, n, DType::i32);
    call.no_overlap(out, "out", *t, n, false);
  }
  const auto tables = [&] {
    return "seq_lens " + seq_lens.str() + ", cu_seqlens_q " + cu_seqlens_q.str() + ", block_tables " +
           block_tables.str();
  };
  if (seq_lens.rank() != 1)
    call.fail(Errc::shape_mismatch, tables() + ": seq_lens must be i32[B], one KV length per sequence");
  const int64_t B = seq_lens.dim(0);
  if (cu_seqlens_q.rank() != 1 || cu_seqlens_q.dim(0) != B + 1)
    call.fail(Errc::shape_mismatch, tables() + ": cu_seqlens_q must be i32[B + 1 = " + std::to_string(B + 1) +
                                        "]: sequence b's queries are rows [cu[b], cu[b+1]) of q");
  if (block_tables.rank() != 2 || block_tables.dim(0) != B)
    call.fail(Errc::shape_mismatch,
              tables() + ": block_tables must be i32[B = " + std::to_string(B) + ", max_blocks]");
  if (max_seqlen_q < 0 || max_seqlen_k < 0)
    call.fail(Errc::invalid_argument, "max_seqlen_q (" + std::to_string(max_seqlen_q) +
                                          ") and max_seqlen_k (" + std::to_string(max_seqlen_k) +
                                          ") must be >= 0");
  if (opt.window < 0)
    call.fail(Errc::invalid_argument,
              "window " + std::to_string(opt.window) + " must be >= 0 (0: no window)");
  float scale = opt.scale;
  if (std::isnan(scale)) scale = 1.0f / std::sqrt(static_cast<float>(D));
  call.finite(scale, "scale");
  backend::TensorArg lse;
  if (opt.lse) {
    call.tensor(*opt.lse, "lse");
    call.dtype_is(*opt.lse, "lse", DType::f32);
    if (opt.lse->rank() != 2 || opt.lse->dim(0) != T || opt.lse->dim(1) != Hq)
      call.fail(Errc::shape_mismatch, "lse " + opt.lse->str() + " must be f32[T = " + std::to_string(T) +
                                          ", Hq = " + std::to_string(Hq) + "] for " + shapes());
    call.writable(*opt.lse, "lse");
    call.no_overlap(*opt.lse, "lse", out, "out", false);
    call.no_overlap(*opt.lse, "lse", q, "q", false);
    for (const Tensor* t : {&block_tables, &cu_seqlens_q, &seq_lens})
      call.no_overlap(*opt.lse, "lse", *t, "an index tensor", false);
    no_overlap_cache(call, cache, *opt.lse, "lse");
  }
  no_overlap_cache(call, cache, out, "out");
  call.supported(cache.k.dtype(), out.dtype());
  (void)nb;
  if (B == 0) call.skip_if_empty(seq_lens);
  backend::PagedAttentionArgs a;
  a.q = detail::to_arg(call.input(q));
  a.out = detail::to_arg(call.output(out));
  if (opt.lse) lse = detail::to_arg(call.output(*opt.lse));
  a.lse = opt.lse ? &lse : nullptr;
  a.cache = cache_arg(cache);
  a.block_tables = detail::to_arg(call.input(block_tables));
  a.cu_seqlens_q = detail::to_arg(call.input(cu_seqlens_q));
  a.seq_lens = detail::to_arg(call.input(seq_lens));
  a.max_seqlen_q = std::min(max_seqlen_q, T);
  a.max_seqlen_k = std::min(max_seqlen_k, block_tables.dim(1) * bs);
  a.causal = opt.causal;
  a.scale = scale;
  a.window = opt.window;
  call.run([&](backend::Queue& queue) { queue.paged_attention(a); });
}

}  // namespace ops
}  // namespace porta
