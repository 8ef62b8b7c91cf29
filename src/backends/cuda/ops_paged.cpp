// The serving ops on CUDA (and the hip module): kv_cache_write and copy_blocks
// (kernels/cuda/paged_cache.cu), paged_attention (kernels/cuda/paged_attention.cu, cut by
// paged_plan.h; split partials in the queue's workspace). Core has validated shapes and
// dtypes; device-resident values are the kernels' to clamp or skip.
#include <algorithm>
#include <climits>
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "backends/cuda/paged_plan.h"
#include "kernels/cuda/paged_args.h"

namespace porta::cuda {
namespace {

int32_t paged_kind(const backend::KvCacheArg& c) {
  switch (c.format) {
    case KvCacheFormat::int8: return kPagedInt8;
    case KvCacheFormat::fp8_e4m3fn: return kPagedFp8;
    default: break;
  }
  return c.k.dtype == DType::f32 ? kPagedF32 : c.k.dtype == DType::bf16 ? kPagedBF16 : kPagedF16;
}

PagedCacheTensor cache_tensor(const backend::TensorArg& t, const backend::TensorArg* scales, float layer) {
  PagedCacheTensor c;
  c.ptr = to_desc(t).ptr;
  c.s_blk = t.strides[0], c.s_slot = t.strides[1], c.s_head = t.strides[2];
  if (scales) {
    c.scales = reinterpret_cast<float*>(to_desc(*scales).ptr);
    c.sc_blk = scales->strides[0], c.sc_slot = scales->strides[1], c.sc_head = scales->strides[2];
  }
  c.layer_scale = layer;
  return c;
}

// 16-byte row accesses when every row of K and V starts 16-byte aligned (rows are D * element
// bytes long, a multiple of 16 for every admitted head dim).
bool rows_aligned(const backend::TensorArg& t, const PagedCacheTensor& c, int es) {
  if (reinterpret_cast<uintptr_t>(c.ptr) % 16 != 0 || (t.shape[3] * es) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (t.shape[i] > 1 && (t.strides[i] * es) % 16 != 0) return false;
  return true;
}

PagedCacheDesc cache_desc(const backend::KvCacheArg& a) {
  PagedCacheDesc d;
  const bool int8 = a.format == KvCacheFormat::int8;
  d.kind = paged_kind(a);
  d.k = cache_tensor(a.k, int8 ? &a.k_scales : nullptr, a.k_scale);
  d.v = cache_tensor(a.v, int8 ? &a.v_scales : nullptr, a.v_scale);
  d.num_blocks = a.k.shape[0];
  d.block_size = static_cast<int32_t>(a.k.shape[1]);
  d.Hkv = static_cast<int32_t>(a.k.shape[2]);
  d.D = static_cast<int32_t>(a.k.shape[3]);
  const int es = d.kind == kPagedF32 ? 4 : d.kind <= kPagedBF16 ? 2 : 1;
  d.vec = rows_aligned(a.k, d.k, es) && rows_aligned(a.v, d.v, es);
  return d;
}

std::string cache_str(const backend::KvCacheArg& c) {
  return std::string(kv_cache_format_name(c.format)) + " cache [" + std::to_string(c.k.shape[0]) + ", " +
         std::to_string(c.k.shape[1]) + ", " + std::to_string(c.k.shape[2]) + ", " +
         std::to_string(c.k.shape[3]) + "] " + dtype_name(c.k.dtype);
}

// The kernels index heads, positions and splits in 32-bit: refuse what would not fit.
void fits_int32(int64_t v, const std::string& op, const char* what) {
  if (v >= (int64_t{1} << 30))
    throw Error(Errc::unsupported, "cuda: " + op + ": " + what + " " + std::to_string(v) +
                                       " must stay below 2^30 on this backend; split the call");
}

}  // namespace

void CudaQueue::kv_cache_write(const backend::KvCacheWriteArgs& a) {
  set_device(dev_.ordinal());
  KvWriteDesc d;
  d.cache = cache_desc(a.cache);
  d.k = to_desc(a.k).ptr;
  d.v = to_desc(a.v).ptr;
  d.in_dt = static_cast<int32_t>(a.k.dtype);
  for (int i = 0; i < 3; ++i) d.k_st[i] = a.k.strides[i], d.v_st[i] = a.v.strides[i];
  d.slots = to_desc(a.slots).ptr;
  d.slot_st = a.slots.strides[0];
  d.slots64 = a.slots.dtype == DType::i64;
  d.T = a.k.shape[0];
  check_launch(launch_kv_cache_write(d, stream_),
               "kv_cache_write of " + std::to_string(d.T) + " tokens into " + cache_str(a.cache));
}

void CudaQueue::copy_blocks(const backend::CopyBlocksArgs& a) {
  set_device(dev_.ordinal());
  CopyBlocksDesc d;
  d.cache = cache_desc(a.cache);
  d.mapping = to_desc(a.mapping).ptr;
  d.map_st[0] = a.mapping.strides[0], d.map_st[1] = a.mapping.strides[1];
  d.map64 = a.mapping.dtype == DType::i64;
  d.N = a.mapping.shape[0];
  check_launch(launch_copy_blocks(d, stream_),
               "copy_blocks of " + std::to_string(d.N) + " pairs in " + cache_str(a.cache));
}

void CudaQueue::paged_attention(const backend::PagedAttentionArgs& a) {
  set_device(dev_.ordinal());
  if (a.max_seqlen_q == 0) return;  // no sequence has a query
  PagedAttnDesc d;
  d.cache = cache_desc(a.cache);
  d.q = to_desc(a.q).ptr;
  d.out = to_desc(a.out).ptr;
  d.dt = static_cast<int32_t>(a.q.dtype);
  for (int i = 0; i < 3; ++i) d.q_st[i] = a.q.strides[i], d.o_st[i] = a.out.strides[i];
  if (a.lse) {
    d.lse = reinterpret_cast<float*>(to_desc(*a.lse).ptr);
    d.lse_st[0] = a.lse->strides[0], d.lse_st[1] = a.lse->strides[1];
  }
  d.tables = to_desc(a.block_tables).ptr;
  d.tab_st[0] = a.block_tables.strides[0], d.tab_st[1] = a.block_tables.strides[1];
  d.cu = to_desc(a.cu_seqlens_q).ptr;
  d.cu_st = a.cu_seqlens_q.strides[0];
  d.lens = to_desc(a.seq_lens).ptr;
  d.lens_st = a.seq_lens.strides[0];
  d.T = a.q.shape[0], d.Hq = a.q.shape[1], d.B = a.seq_lens.shape[0];
  d.max_blocks = a.block_tables.shape[1];
  d.causal = a.causal;
  d.window = static_cast<int32_t>(std::min<int64_t>(a.window, INT_MAX));
  d.scale = a.scale;
  const std::string what = "paged_attention q [" + std::to_string(d.T) + ", " + std::to_string(d.Hq) + ", " +
                           std::to_string(d.cache.D) + "] " + dtype_name(a.q.dtype) + ", " +
                           cache_str(a.cache) + ", B " + std::to_string(d.B);
  fits_int32(d.T, what, "T");
  fits_int32(a.max_seqlen_k, what, "max_seqlen_k");
  d.max_q = static_cast<int32_t>(a.max_seqlen_q);
  d.max_k = static_cast<int32_t>(a.max_seqlen_k);
  // Prefill-sized calls on plain f16/bf16 caches: the tensor-core kernel (one pass, no split).
  PagedPathQuery pq;
  pq.tc_compiled = paged_prefill_sm80_compiled();
  pq.cc_major = device().gemm_facts().cc_major;
  pq.force = device().settings().attn;
  const bool q_rows16 = reinterpret_cast<uintptr_t>(d.q) % 16 == 0 && d.q_st[2] == 1 && d.q_st[0] % 8 == 0 &&
                        d.q_st[1] % 8 == 0;
  pq.eligible = (d.cache.kind == kPagedF16 || d.cache.kind == kPagedBF16) && d.cache.kind == d.dt &&
                d.cache.vec && q_rows16;
  pq.B = d.B, pq.Hq = d.Hq, pq.D = d.cache.D, pq.max_q = d.max_q;
  pq.prefill_min_q = device().tuning().attn.prefill_min_q;
  pq.smem_per_block = static_cast<int64_t>(device().info().shared_memory_bytes);
  if (paged_use_tensor_cores(pq)) {
    check_launch(launch_paged_prefill_sm80(d, stream_), what + " (mma.sync prefill)");
    return;
  }
  PagedShape s;
  s.B = d.B, s.Hq = d.Hq, s.Hkv = d.cache.Hkv, s.D = d.cache.D, s.max_q = d.max_q, s.max_k = d.max_k;
  const CudaDevice& dev = device();
  d.plan = plan_paged_attention(
      s, dev.gemm_facts().partition_sms > 0 ? dev.gemm_facts().partition_sms : dev.sm_count(),
      dev.tuning().paged);
  fits_int32(d.plan.ctas, what, "CTAs (sequences x query tiles x KV heads x head tiles x splits)");
  if (d.plan.splits > 1) {
    const int64_t rows = d.B * d.max_q * d.Hq;
    fits_int32(rows, what, "rows of the split-KV combine (B x max_seqlen_q x Hq)");
    d.part = static_cast<float*>(
        workspace(static_cast<uint64_t>(rows) * d.plan.splits * static_cast<uint64_t>(d.cache.D + 2) * 4));
  }
  check_launch(launch_paged_attention(d, stream_),
               what + (d.plan.splits > 1 ? " (split-KV, " + std::to_string(d.plan.splits) + " splits)" : ""));
}

}  // namespace porta::cuda
