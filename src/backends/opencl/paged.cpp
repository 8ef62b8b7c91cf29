// The serving ops (porta/serving.h) on OpenCL: kv_cache_write and copy_blocks (paged_cache.cl)
// and paged_attention (paged_attention.cl), whose work-items each own a (sequence, KV head,
// head tile, query tile, KV split); splits > 1 only when too few work-items would fill the
// device (decode), and then a combine pass merges them. The grid covers every sequence's
// max_seqlen_q query slots: items past a sequence's own count exit at once (FlashAttention's
// varlen grid), so launches need no device-to-host copy.
#include <algorithm>
#include <climits>

#include "backends/opencl/queue.h"

namespace porta::opencl {
namespace {

int cache_format_code(KvCacheFormat f) {
  return f == KvCacheFormat::plain ? 0 : f == KvCacheFormat::int8 ? 1 : 2;
}

std::string cache_options(const backend::KvCacheArg& c) {
  return " -DKF=" + std::to_string(cache_format_code(c.format)) +
         " -DKT=" + std::to_string(static_cast<int>(c.k.dtype));
}

int to_int(int64_t v, const char* op, const char* what) {
  if (v > INT_MAX)
    throw Error(Errc::unsupported, std::string("opencl: ") + op + ": " + what + " " + std::to_string(v) +
                                       " must stay below 2^31 on this backend");
  return static_cast<int>(v);
}

// The int8 scale views, or stand-ins (the cache view itself, never read) for other formats.
std::pair<View4, View4> scale_views(const backend::KvCacheArg& c) {
  if (c.format == KvCacheFormat::int8) return {view4(c.k_scales), view4(c.v_scales)};
  return {view4(c.k), view4(c.v)};
}

}  // namespace

void ClQueue::kv_cache_write(const backend::KvCacheWriteArgs& a) {
  const char* op = "kv_cache_write";
  const backend::KvCacheArg& c = a.cache;
  const View4 k = view4(a.k), v = view4(a.v), slots = view4(a.slots), kc = view4(c.k), vc = view4(c.v);
  const auto [ks, vs] = scale_views(c);
  const int64_t T = a.k.shape[0], Hkv = a.k.shape[1], D = a.k.shape[2];
  const std::string opts = base_options(dev_) + cache_options(c) + dtype_define("IN", a.k.dtype) +
                           " -DIDX64=" + (a.slots.dtype == DType::i64 ? "1" : "0") + " -DES=1";
  const size_t global = round_up(static_cast<size_t>(T * Hkv), kGroup), local = kGroup;
  Launch(kernel("paged_cache", opts, "kv_cache_write"), op)
      .arg(cl_int{to_int(T, op, "T")})
      .arg(cl_int{static_cast<int>(Hkv)})
      .arg(cl_int{static_cast<int>(D)})
      .arg(cl_long{c.k.shape[0]})
      .arg(cl_int{static_cast<int>(c.k.shape[1])})
      .tensor(k)
      .tensor(v)
      .tensor(slots)
      .tensor(kc)
      .tensor(vc)
      .tensor(ks)
      .tensor(vs)
      .arg(cl_float{c.k_scale})
      .arg(cl_float{c.v_scale})
      .run(q_, 1, &global, &local);
}

void ClQueue::copy_blocks(const backend::CopyBlocksArgs& a) {
  const char* op = "copy_blocks";
  const backend::KvCacheArg& c = a.cache;
  const View4 map = view4(a.mapping), kc = view4(c.k), vc = view4(c.v);
  const auto [ks, vs] = scale_views(c);
  const int64_t N = a.mapping.shape[0], bs = c.k.shape[1], Hkv = c.k.shape[2], D = c.k.shape[3];
  const std::string opts = base_options(dev_) + cache_options(c) +
                           " -DDT_IN=0 -DIDX64=" + (a.mapping.dtype == DType::i64 ? "1" : "0") +
                           " -DES=" + std::to_string(dtype_size(c.k.dtype));
  const size_t global = round_up(static_cast<size_t>(N * bs * Hkv), kGroup), local = kGroup;
  Launch(kernel("paged_cache", opts, "copy_blocks"), op)
      .arg(cl_int{to_int(N * bs * Hkv, op, "pairs x block rows")})
      .arg(cl_long{c.k.shape[0]})
      .arg(cl_int{static_cast<int>(bs)})
      .arg(cl_int{static_cast<int>(Hkv)})
      .arg(cl_int{static_cast<int>(D)})
      .tensor(map)
      .tensor(kc)
      .tensor(vc)
      .tensor(ks)
      .tensor(vs)
      .arg(cl_int{c.format == KvCacheFormat::int8 ? 1 : 0})
      .run(q_, 1, &global, &local);
}

void ClQueue::paged_attention(const backend::PagedAttentionArgs& a) {
  const char* op = "paged_attention";
  const backend::KvCacheArg& c = a.cache;
  const View4 q = view4(a.q), o = view4(a.out), kc = view4(c.k), vc = view4(c.v);
  const View4 tab = view4(a.block_tables), cu = view4(a.cu_seqlens_q), lens = view4(a.seq_lens);
  const auto [ks, vs] = scale_views(c);
  const int64_t T = a.q.shape[0], Hq = a.q.shape[1], D = a.q.shape[2];
  const int64_t nb = c.k.shape[0], bs = c.k.shape[1], Hkv = c.k.shape[2], G = Hq / Hkv;
  const int64_t B = a.seq_lens.shape[0], max_blocks = a.block_tables.shape[1];
  const int64_t max_q = a.max_seqlen_q, max_k = a.max_seqlen_k;
  if (max_q == 0) return;  // no sequence has a query
  const AttentionParams& p = dev_.tuning().attention;
  // Rows per work-item (<= 16): the whole GQA group when it fits, times query positions.
  const int64_t gh = std::min<int64_t>(G, 16);
  const int64_t qp = std::max<int64_t>(1, std::min<int64_t>(16 / gh, max_q));
  const int64_t g_tiles = (G + gh - 1) / gh, q_tiles = (max_q + qp - 1) / qp;
  const int64_t items = B * q_tiles * Hkv * g_tiles;
  int64_t splits = 1, chunk = std::max<int64_t>(64, (max_k + 63) / 64 * 64);
  const uint64_t row_bytes = static_cast<uint64_t>(B * max_q * Hq) * (D + 2) * sizeof(float);
  if (items < p.decode_items && max_k > p.decode_min_chunk) {
    splits =
        std::min((max_k + p.decode_min_chunk - 1) / p.decode_min_chunk, (p.decode_items + items - 1) / items);
    splits = std::min<int64_t>(splits, std::max<uint64_t>(1, (uint64_t{256} << 20) / row_bytes));  // partials
    chunk = ((max_k + splits - 1) / splits + 63) / 64 * 64;  // whole 64-key pieces: every block size divides
    splits = std::max<int64_t>(1, (max_k + chunk - 1) / chunk);
  }
  to_int(items * splits, op, "work-items");
  to_int(B * max_q * Hq, op, "query rows x heads");
  to_int(std::max(T, nb * bs), op, "tokens and cache slots");
  cl_mem work = o.mem;
  if (splits > 1) work = scratch(1, row_bytes * static_cast<uint64_t>(splits));
  // CPU rows (decode_grouped): paged_attention_grouped walks the keys with decode_span, the
  // dense grouped decode's span step; the head dim is fixed per program.
  const bool grouped =
      p.decode_grouped != 0 && (p.decode_vec == 8 || p.decode_vec == 16) && D % p.decode_vec == 0;
  std::string opts = base_options(dev_) + " -DDT=" + std::to_string(static_cast<int>(a.q.dtype)) +
                     cache_options(c) + " -DVW=" + std::to_string(p.decode_vec) +
                     " -DGH=" + std::to_string(gh) + " -DQP=" + std::to_string(qp);
  if (grouped)
    opts += " -DHEAD_D=" + std::to_string(D) + " -DSPAN=" + std::to_string(p.decode_span) +
            " -DPFD=" + std::to_string(p.decode_prefetch);
  cl_mem lse_mem = o.mem;
  cl_long lse_off = 0, lse_s0 = 0, lse_s1 = 0;
  if (a.lse) {
    lse_mem = mem_of(*a.lse);
    lse_off = a.lse->offset, lse_s0 = a.lse->strides[0], lse_s1 = a.lse->strides[1];
  }
  const cl_int has_lse = a.lse ? 1 : 0;
  const size_t local = static_cast<size_t>(std::max(1, p.decode_wg));
  const size_t global = static_cast<size_t>(items * splits);
  Launch(kernel("paged_attention", opts, grouped ? "paged_attention_grouped" : "paged_attention"),
         "paged_attention (split-KV)")
      .arg(cl_int{static_cast<int>(T)})
      .arg(cl_int{static_cast<int>(Hq)})
      .arg(cl_int{static_cast<int>(Hkv)})
      .arg(cl_int{static_cast<int>(D)})
      .arg(cl_int{static_cast<int>(B)})
      .arg(cl_int{static_cast<int>(max_q)})
      .arg(cl_int{to_int(max_k, op, "max_seqlen_k")})
      .arg(cl_int{static_cast<int>(nb)})
      .arg(cl_int{static_cast<int>(bs)})
      .arg(cl_int{to_int(max_blocks, op, "max_blocks")})
      .arg(cl_int{a.causal ? 1 : 0})
      .arg(cl_int{static_cast<int>(std::min<int64_t>(a.window, INT_MAX))})
      .arg(cl_float{a.scale})
      .arg(cl_int{static_cast<int>(splits)})
      .arg(cl_int{static_cast<int>(chunk)})
      .arg(cl_int{static_cast<int>(q_tiles)})
      .arg(cl_int{static_cast<int>(g_tiles)})
      .tensor(q)
      .tensor(kc)
      .tensor(vc)
      .tensor(o)
      .tensor(ks)
      .tensor(vs)
      .arg(cl_float{c.k_scale})
      .arg(cl_float{c.v_scale})
      .tensor(tab)
      .tensor(cu)
      .tensor(lens)
      .arg(lse_mem)
      .arg(lse_off)
      .arg(lse_s0)
      .arg(lse_s1)
      .arg(has_lse)
      .arg(work)
      .run(q_, 1, &global, &local);
  if (splits == 1) return;
  const size_t cglobal[2] = {static_cast<size_t>(D), static_cast<size_t>(B * max_q * Hq)};
  const size_t clocal[2] = {static_cast<size_t>(D), 1};
  Launch(kernel("paged_attention", opts, "paged_combine"), "paged_attention (split-KV combine)")
      .arg(cl_int{static_cast<int>(T)})
      .arg(cl_int{static_cast<int>(Hq)})
      .arg(cl_int{static_cast<int>(D)})
      .arg(cl_int{static_cast<int>(B)})
      .arg(cl_int{static_cast<int>(max_q)})
      .arg(cl_int{static_cast<int>(splits)})
      .tensor(o)
      .tensor(cu)
      .tensor(lens)
      .arg(lse_mem)
      .arg(lse_off)
      .arg(lse_s0)
      .arg(lse_s1)
      .arg(has_lse)
      .arg(work)
      .run(q_, 2, cglobal, clocal);
}

}  // namespace porta::opencl
