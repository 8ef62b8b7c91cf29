// The serving form of attention, as engines that batch many users (vLLM, SGLang, LMDeploy)
// need it: KV caches in fixed-size blocks addressed through per-sequence block tables,
// packed variable-length query batches, KV-cache writes at per-token slots, block copies.
//
// Values that live on the device (slots, block ids, lengths, cu_seqlens) are never trusted:
// kernels clamp or skip them as each op documents, and never read or write outside a tensor.
#pragma once

#include <cstdint>
#include <limits>

#include "porta/stream.h"
#include "porta/tensor.h"

namespace porta {

/// How a KV cache stores its values.
enum class KvCacheFormat : uint8_t {
  plain,       // k/v are f32, f16 or bf16
  int8,        // k/v are i8 codes, value = code * scale; one f32 scale per (block, slot, kv head) in
               // k_scales/v_scales, chosen by kv_cache_write (symmetric: max |x| / 127)
  fp8_e4m3fn,  // k/v are i8 tensors holding float8 e4m3fn bit patterns (porta/quant.h converts them), value =
               // fp8(code) * k_scale (v_scale): per-layer scales, as vLLM's fp8 cache; kv_cache_write
               // saturates to ±448
};
const char* kv_cache_format_name(KvCacheFormat f) noexcept;

/// One layer's paged KV cache. k and v are [num_blocks, block_size, Hkv, D] (any strides, so a
/// head-major [num_blocks, Hkv, block_size, D] allocation is passed as a transpose(1, 2) view;
/// D must have unit stride). block_size is 16, 32 or 64.
struct KvCache {
  Tensor k, v;
  KvCacheFormat format = KvCacheFormat::plain;
  Tensor k_scales, v_scales;             // int8 only: f32 [num_blocks, block_size, Hkv]
  float k_scale = 1.0f, v_scale = 1.0f;  // fp8_e4m3fn only: dequantisation scales (finite, > 0)

  int64_t num_blocks() const { return k.defined() ? k.dim(0) : 0; }
  int64_t block_size() const { return k.defined() ? k.dim(1) : 0; }
};

namespace ops {

/// Scatters this step's keys and values k, v [T, Hkv, D] (f32, f16 or bf16; any strides) into
/// the cache: token t goes to block slots[t] / block_size, offset slots[t] % block_size.
/// slots is i32 or i64 [T]. A slot of -1 skips its token (padding), and so does any slot
/// outside [0, num_blocks * block_size): a bad slot never writes outside the cache. For an
/// int8 cache the token's scale per head (max |x| / 127) goes to k_scales/v_scales; for fp8
/// the values are divided by k_scale/v_scale and saturated. Two tokens naming the same slot
/// leave unspecified values there. T = 0 does nothing.
void kv_cache_write(Stream& s, const Tensor& k, const Tensor& v, const Tensor& slots, KvCache& cache);

/// Copies whole blocks inside one cache (k, v and int8 scales), as engines do for copy-on-write
/// of shared prefix blocks and beam search: mapping is i32 or i64 [N, 2] of (src, dst) block ids.
/// Pairs with either id outside [0, num_blocks) are skipped. Pairs run in any order: a block
/// written by one pair must not be read or written by another (the values are then unspecified,
/// but nothing outside the cache is touched). N = 0 does nothing.
void copy_blocks(Stream& s, KvCache& cache, const Tensor& mapping);

struct PagedAttentionOptions {
  /// Query i of a sequence with q_len queries and kv_len keys sits at position
  /// p = kv_len - q_len + i (its own key was written by this step) and sees keys j <= p.
  /// Without causal it sees every key j < kv_len.
  bool causal = true;
  float scale = std::numeric_limits<float>::quiet_NaN();  // NaN: 1/sqrt(D)
  /// Sliding window W > 0: key j is visible from position p only if p - W < j (Mistral, Qwen2).
  /// 0: no window.
  int64_t window = 0;
  /// Optional f32 [T, Hq] output: the natural-log sum of exp(scale * q·k) over the visible keys
  /// (for merging partial results, e.g. cascade attention); -inf where a row sees no key.
  Tensor* lse = nullptr;
};

/// Attention of packed variable-length queries against a paged KV cache; one call serves decode
/// (one query per sequence), chunked prefill (a chunk at the end of a longer cached context) and
/// batches mixing both.
///  q, out        [T, Hq, D], the queries of all sequences one after another (f32, f16, bf16;
///                the cache's dtype for a plain cache), Hq % Hkv == 0, D in {64, 80, 96, 128, 256}
///  cu_seqlens_q  i32 [B + 1]: sequence b's queries are rows [cu[b], cu[b+1]) of q
///  seq_lens      i32 [B]: each sequence's total KV length, this step's tokens included (they must
///                already be in the cache: kv_cache_write first)
///  block_tables  i32 [B, max_blocks]: the cache blocks holding each sequence's keys in order;
///                entries past a sequence's length are ignored and may be -1
///  max_seqlen_q, max_seqlen_k: host-side upper bounds of the query and KV lengths (FlashAttention's
///                varlen API) so device launches need no device-to-host copy.
/// Device-resident values are clamped or skipped, never trusted: cu_seqlens_q entries are clamped
/// to [0, T] and a sequence's query count to [0, max_seqlen_q]; seq_lens to
/// [0, min(max_seqlen_k, max_blocks * block_size)]; keys in a block whose id is outside
/// [0, num_blocks) are skipped (masked). A row that sees no key is zero; rows of out that no
/// sequence covers are left unchanged. B = 0 or T = 0 does nothing.
void paged_attention(Stream& s, const Tensor& q, const KvCache& cache, const Tensor& block_tables,
                     const Tensor& cu_seqlens_q, const Tensor& seq_lens, int64_t max_seqlen_q,
                     int64_t max_seqlen_k, Tensor& out, const PagedAttentionOptions& opt = {});

}  // namespace ops
}  // namespace porta
