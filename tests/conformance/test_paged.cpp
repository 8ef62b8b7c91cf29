// The serving ops (porta/serving.h) against the float64 reference: paged attention over
// shuffled block tables with shared prefix blocks and -1 past each sequence, ragged and mixed
// batches (decode + prefill chunks), every block size, head dim and cache format (the
// reference runs on the dequantised cache), sliding windows, LSE; NaN in every unused slot and
// block; poisoned outputs inside guard regions. Then kv_cache_write and copy_blocks.
// Backends that do not implement the serving ops yet report the tests as skipped.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>

#include "porta/quant.h"
#include "support/harness.h"

namespace porta::test {
namespace {

// A one-row probe in SetUp: backends without the serving ops skip before any data is built.
class Paged : public DeviceTest {
 protected:
  void SetUp() override {
    Stream s(device());
    KvCache c;
    c.k = Tensor::empty(device(), DType::f32, {1, 16, 1, 64});
    c.v = Tensor::empty(device(), DType::f32, {1, 16, 1, 64});
    Tensor q = Tensor::empty(device(), DType::f32, {1, 1, 64}),
           out = Tensor::empty(device(), DType::f32, {1, 1, 64});
    const int32_t zeros[2] = {0, 1};
    try {
      ops::paged_attention(s, q, c, Tensor::from_host(s, DType::i32, {1, 1}, zeros),
                           Tensor::from_host(s, DType::i32, {2}, zeros),
                           Tensor::from_host(s, DType::i32, {1}, zeros), 1, 0, out);
    } catch (const Error& e) {
      if (e.code() == Errc::unsupported && std::string(e.what()).find("not implemented") != std::string::npos)
        GTEST_SKIP() << e.what();
      throw;
    }
  }
};

/// Runs fn; a backend without the op (interface-2 default) turns the test into a skip.
#define PORTA_OR_SKIP(stmt)                                                                                  \
  try {                                                                                                      \
    stmt;                                                                                                    \
  } catch (const Error& e) {                                                                                 \
    if (e.code() == Errc::unsupported && std::string(e.what()).find("not implemented") != std::string::npos) \
      GTEST_SKIP() << e.what();                                                                              \
    throw;                                                                                                   \
  }

struct PagedCase {
  std::vector<int32_t> q_lens, kv_lens;
  int64_t Hq = 4, Hkv = 2, D = 64, bs = 16;
  DType t = DType::f16;  // q/out dtype (and a plain cache's)
  KvCacheFormat format = KvCacheFormat::plain;
  bool causal = true;
  int64_t window = 0;
  bool shared_prefix = false;  // sequence 1 reads sequence 0's leading blocks
  bool lse = false;
  bool head_major = false;  // cache stored [nb, Hkv, bs, D], passed as a transpose(1, 2) view
  Layout out_layout = Layout::contiguous;
  // Device values the kernels must clamp or skip (the reference applies the same rules).
  int64_t max_seqlen_q = -1, max_seqlen_k = -1;          // -1: the true maxima
  std::vector<std::pair<int64_t, int32_t>> table_edits;  // (flat index, value) applied after building
  std::vector<int32_t> cu_override;                      // non-empty: cu_seqlens_q as given
  std::vector<int32_t> lens_override;                    // non-empty: seq_lens as given
};

std::string str(const PagedCase& c) {
  std::string s = "q_lens {";
  for (auto x : c.q_lens) s += std::to_string(x) + " ";
  s += "} kv {";
  for (auto x : c.kv_lens) s += std::to_string(x) + " ";
  return s + "} Hq " + std::to_string(c.Hq) + " Hkv " + std::to_string(c.Hkv) + " D " + std::to_string(c.D) +
         " bs " + std::to_string(c.bs) + " " + dtype_name(c.t) + " " + kv_cache_format_name(c.format) +
         (c.causal ? " causal" : "") + " window " + std::to_string(c.window) +
         (c.head_major ? " head-major" : "");
}

/// A cache as stored (device codes) and as the reference reads it (dequantised, NaN where unused).
struct HostCache {
  HostTensor k_store, v_store;    // values (plain) or codes (int8; fp8 as signed bytes)
  HostTensor k_scales, v_scales;  // int8: [nb, bs, Hkv]
  HostTensor k_ref, v_ref;        // dequantised [nb, bs, Hkv, D]
  float k_scale = 0.05f, v_scale = 0.03f;
};

double fp8_value(double signed_code) {
  return fp8_e4m3fn_to_float(static_cast<uint8_t>(static_cast<int8_t>(signed_code)));
}

// Fills slot (block, slot) of every head with random data (used) or NaN/NaN codes (unused).
void fill_slot(HostCache& h, const PagedCase& c, int64_t block, int64_t slot, bool used, std::mt19937& rng) {
  const int64_t bs = c.bs, Hkv = c.Hkv, D = c.D;
  auto u = [&] { return static_cast<double>(rng()) * 0x1p-32; };
  for (int64_t hk = 0; hk < Hkv; ++hk) {
    const int64_t row = ((block * bs + slot) * Hkv + hk);
    for (HostTensor* st : {&h.k_store, &h.v_store}) {
      const bool is_k = st == &h.k_store;
      HostTensor& ref = is_k ? h.k_ref : h.v_ref;
      HostTensor& scales = is_k ? h.k_scales : h.v_scales;
      double sc = 1.0;
      if (c.format == KvCacheFormat::int8) {
        sc = used ? (0.5 + 0.5 * u()) / 127.0 : std::nan("");
        scales[row] = static_cast<float>(sc);
        sc = static_cast<float>(sc);
      }
      for (int64_t d = 0; d < D; ++d) {
        const int64_t e = row * D + d;
        switch (c.format) {
          case KvCacheFormat::plain: {
            std::vector<uint8_t> tmp(8);
            store_from_double(c.t, tmp.data(), 0, used ? 2.0 * u() - 1.0 : std::nan(""));
            (*st)[e] = ref[e] = load_as_double(c.t, tmp.data(), 0);
            break;
          }
          case KvCacheFormat::int8: {
            const double code = std::floor(u() * 255.0) - 127.0;
            (*st)[e] = code;
            ref[e] = code * sc;  // NaN scale: NaN
            break;
          }
          case KvCacheFormat::fp8_e4m3fn: {
            int code = static_cast<int>(rng() & 0xff);
            if ((code & 0x7f) == 0x7f || (code & 0x78) == 0x78) code &= 0xb7;  // finite, |x| < 256
            if (!used) code = 0x7f;                                            // NaN
            (*st)[e] = static_cast<int8_t>(static_cast<uint8_t>(code));
            ref[e] = fp8_value((*st)[e]) * static_cast<double>(is_k ? h.k_scale : h.v_scale);
            break;
          }
        }
      }
    }
  }
}

// [nb, bs, Hkv, D] host values -> device tensor (a transposed view for head-major caches).
Tensor upload_cache(Stream& s, const HostTensor& h, DType t, bool head_major) {
  if (!head_major) return upload(s, h, t);
  const int64_t nb = h.shape[0], bs = h.shape[1], H = h.shape[2], D = h.shape[3];
  HostTensor hm({nb, H, bs, D});
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t j = 0; j < bs; ++j)
      for (int64_t k = 0; k < H; ++k)
        for (int64_t d = 0; d < D; ++d)
          hm[((b * H + k) * bs + j) * D + d] = h[((b * bs + j) * H + k) * D + d];
  return upload(s, hm, t).transpose(1, 2);
}

void run(Stream& s, const PagedCase& c, uint32_t seed) {
  SCOPED_TRACE(str(c));
  const auto B = static_cast<int64_t>(c.q_lens.size());
  std::vector<int32_t> cu(static_cast<size_t>(B + 1), 0);
  for (int64_t b = 0; b < B; ++b)
    cu[static_cast<size_t>(b + 1)] = cu[static_cast<size_t>(b)] + c.q_lens[static_cast<size_t>(b)];
  const int64_t T = cu.back();
  // Blocks: each sequence's own, minus the ones sequence 1 shares with sequence 0, plus unused ones.
  std::vector<int64_t> need(static_cast<size_t>(B));
  int64_t max_need = 1;
  for (int64_t b = 0; b < B; ++b) {
    need[static_cast<size_t>(b)] = (c.kv_lens[static_cast<size_t>(b)] + c.bs - 1) / c.bs;
    max_need = std::max(max_need, need[static_cast<size_t>(b)]);
  }
  const int64_t shared = c.shared_prefix && B > 1 ? std::max<int64_t>(0, std::min(need[0], need[1]) - 1) : 0;
  const int64_t used_blocks = std::accumulate(need.begin(), need.end(), int64_t{0}) - shared;
  const int64_t nb = used_blocks + 3, max_blocks = max_need + 2;
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(nb));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<int32_t> table(static_cast<size_t>(B * max_blocks), -1);
  size_t next = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < need[static_cast<size_t>(b)]; ++j)
      table[static_cast<size_t>(b * max_blocks + j)] =
          b == 1 && j < shared ? table[static_cast<size_t>(j)] : ids[next++];
  // Cache contents: NaN everywhere, then data in the slots some sequence reads.
  HostCache h;
  const std::vector<int64_t> cshape{nb, c.bs, c.Hkv, c.D}, sshape{nb, c.bs, c.Hkv};
  h.k_store = h.v_store = h.k_ref = h.v_ref = HostTensor(cshape);
  h.k_scales = h.v_scales = HostTensor(sshape);
  // A slot is used when a sequence reads it under the lengths the device sees (clamped to the table).
  const std::vector<int32_t>& lens_seen = c.lens_override.empty() ? c.kv_lens : c.lens_override;
  std::vector<bool> used(static_cast<size_t>(nb * c.bs), false);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < std::min<int64_t>(lens_seen[static_cast<size_t>(b)], max_blocks * c.bs); ++j) {
      const int32_t id = table[static_cast<size_t>(b * max_blocks + j / c.bs)];
      if (id >= 0) used[static_cast<size_t>(id * c.bs + j % c.bs)] = true;
    }
  for (int64_t blk = 0; blk < nb; ++blk)
    for (int64_t j = 0; j < c.bs; ++j)
      fill_slot(h, c, blk, j, used[static_cast<size_t>(blk * c.bs + j)], rng);
  for (auto [i, v] : c.table_edits) table[static_cast<size_t>(i)] = v;
  const std::vector<int32_t> cu_dev = c.cu_override.empty() ? cu : c.cu_override;
  const std::vector<int32_t> lens_dev = c.lens_override.empty() ? c.kv_lens : c.lens_override;

  KvCache cache;
  cache.format = c.format;
  const DType store = c.format == KvCacheFormat::plain ? c.t : DType::i8;
  cache.k = upload_cache(s, h.k_store, store, c.head_major);
  cache.v = upload_cache(s, h.v_store, store, c.head_major);
  if (c.format == KvCacheFormat::int8) {
    cache.k_scales = upload(s, h.k_scales, DType::f32);
    cache.v_scales = upload(s, h.v_scales, DType::f32);
  }
  cache.k_scale = h.k_scale;
  cache.v_scale = h.v_scale;

  const HostTensor q = random({T, c.Hq, c.D}, c.t, seed + 7);
  Tensor Q = upload(s, q, c.t);
  Tensor tables = Tensor::from_host(s, DType::i32, {B, max_blocks}, table.data());
  Tensor CU = Tensor::from_host(s, DType::i32, {B + 1}, cu_dev.data());
  Tensor L = Tensor::from_host(s, DType::i32, {B}, lens_dev.data());
  GuardedOutput out(s, {T, c.Hq, c.D}, c.t, c.out_layout);
  GuardedOutput lse(s, {T, c.Hq}, DType::f32);
  ops::PagedAttentionOptions opt;
  opt.causal = c.causal;
  opt.window = c.window;
  opt.lse = c.lse ? &lse.tensor() : nullptr;
  const int64_t mq =
      c.max_seqlen_q >= 0 ? c.max_seqlen_q : *std::max_element(c.q_lens.begin(), c.q_lens.end());
  const int64_t mk =
      c.max_seqlen_k >= 0 ? c.max_seqlen_k : *std::max_element(c.kv_lens.begin(), c.kv_lens.end());
  PORTA_OR_SKIP(ops::paged_attention(s, Q, cache, tables, CU, L, mq, mk, out.tensor(), opt));

  HostTensor before({T, c.Hq, c.D}), lse_ref({T, c.Hq});
  std::fill(before.v.begin(), before.v.end(), std::nan(""));
  std::fill(lse_ref.v.begin(), lse_ref.v.end(), std::nan(""));
  const HostTensor ref =
      ref::paged_attention(q, h.k_ref, h.v_ref, table, max_blocks, cu_dev, lens_dev, mq, mk, c.causal,
                           1.0 / std::sqrt(static_cast<double>(c.D)), c.window, before, &lse_ref);
  bool every_row_sees_a_key = true;
  for (double x : lse_ref.v) every_row_sees_a_key &= std::isfinite(x);
  EXPECT_TRUE(close(out.result(s), ref, OpClass::matmul, c.t, every_row_sees_a_key));
  if (c.lse) {
    EXPECT_TRUE(close(lse.result(s), lse_ref, OpClass::matmul, c.t, false));
  }
}

TEST_P(Paged, DecodeEveryBlockSizeAndHeadDim) {
  Stream s(device());
  uint32_t seed = 5000;
  for (int64_t bs : {16, 32, 64})
    for (int64_t D : {64, 128, 256}) {
      PagedCase c{{1, 1, 1, 1}, {1, 7, 33, 1000}};
      c.bs = bs, c.D = D, c.Hq = 8, c.Hkv = 2;
      run(s, c, seed++);
    }
  for (int64_t D : {80, 96}) {
    PagedCase c{{1, 1, 1}, {33, 64, 300}};
    c.D = D;
    run(s, c, seed++);
  }
}

TEST_P(Paged, MixedBatchesEveryDtype) {
  Stream s(device());
  uint32_t seed = 5100;
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    // decode steps, prefill chunks after a cached context, a whole prompt, one of each length
    PagedCase c{{1, 7, 33, 1, 5, 20}, {1000, 40, 33, 1, 77, 20}};
    c.t = t, c.Hq = 8, c.Hkv = 2, c.shared_prefix = true;
    run(s, c, seed++);
    PagedCase mqa{{3, 1}, {70, 129}};
    mqa.t = t, mqa.Hq = 4, mqa.Hkv = 1, mqa.bs = 32, mqa.D = 128, mqa.shared_prefix = true;
    run(s, mqa, seed++);
  }
  // A chunk after a long context, windowed: on llvmpipe the Vulkan prefill walks it in two
  // passes of its loop budget (896 keys at D = 128).
  PagedCase chunk{{4, 1}, {1000, 40}};
  chunk.D = 128, chunk.window = 950, chunk.lse = true;
  run(s, chunk, seed++);
  // Decode steps with longer contexts than the chunks beside them: on llvmpipe the decode steps
  // go to the grouped decode kernel in the same call, and the short chunk's workgroups have no
  // key in the prefill's second pass.
  PagedCase late{{4, 1, 3, 1}, {40, 1000, 1000, 7}};
  late.D = 128, late.lse = true;
  run(s, late, seed++);
}

TEST_P(Paged, QuantizedCaches) {
  Stream s(device());
  uint32_t seed = 5200;
  for (KvCacheFormat f : {KvCacheFormat::int8, KvCacheFormat::fp8_e4m3fn})
    for (DType t : {DType::f32, DType::f16, DType::bf16}) {
      if (!supports(t) || !supports(DType::i8)) continue;
      PagedCase c{{1, 1, 9, 1}, {1, 300, 40, 65}};
      c.t = t, c.format = f, c.Hq = 8, c.Hkv = 2, c.D = 128, c.shared_prefix = true;
      run(s, c, seed++);
    }
  PagedCase big{{1, 1}, {1000, 17}};
  big.format = KvCacheFormat::int8, big.bs = 64, big.D = 256;
  run(s, big, seed++);
}

// Pure decode steps (max_seqlen_q 1, the shape Vulkan's grouped kernel takes on CPU-like
// devices): every cache format and dtype, GQA groups of 1, 4 and 16 and MQA, windows with and
// without causal masking, LSE, and bad block ids inside a sequence.
TEST_P(Paged, DecodeStepsEveryFormatGroupAndWindow) {
  Stream s(device());
  uint32_t seed = 5250;
  for (KvCacheFormat f : {KvCacheFormat::plain, KvCacheFormat::int8, KvCacheFormat::fp8_e4m3fn})
    for (DType t : {DType::f32, DType::f16, DType::bf16}) {
      if (!supports(t) || (f != KvCacheFormat::plain && !supports(DType::i8))) continue;
      PagedCase c{{1, 1, 1, 1}, {1, 300, 40, 65}};
      c.t = t, c.format = f, c.Hq = 8, c.Hkv = 2, c.D = 128, c.shared_prefix = true, c.lse = true;
      run(s, c, seed++);
    }
  for (int64_t hq : {2, 32, 16}) {  // groups of 1 (MHA), 4, and 16 (MQA over one KV head)
    PagedCase c{{1, 1, 1}, {7, 129, 33}};
    c.Hq = hq, c.Hkv = hq == 16 ? 1 : (hq == 2 ? 2 : 8), c.D = 128;
    run(s, c, seed++);
  }
  for (int64_t w : {1, 5, 40}) {
    PagedCase c{{1, 1, 1}, {1000, 40, 3}};
    c.window = w, c.lse = true, c.Hq = 8, c.Hkv = 2, c.D = 128;
    run(s, c, seed++);
    c.causal = false;
    run(s, c, seed++);
  }
  PagedCase bad{{1, 1, 1}, {70, 20, 33}};
  bad.D = 128, bad.Hq = 8, bad.Hkv = 2, bad.format = KvCacheFormat::int8;
  bad.table_edits = {{1, 1 << 20}, {2, -5}, {3, INT32_MIN}};  // sequence 0's blocks 1-3: skipped
  if (supports(DType::i8)) run(s, bad, seed++);
  bad.format = KvCacheFormat::plain;
  run(s, bad, seed++);
  // Quantised caches at the benchmark's GQA shape (Hq 32 over 8 KV heads, D 128): on the cpu
  // the fused int8 VNNI step over 64-key steps and the 8-head scale transposes.
  if (supports(DType::i8))
    for (KvCacheFormat f : {KvCacheFormat::int8, KvCacheFormat::fp8_e4m3fn}) {
      PagedCase c{{1, 1, 1}, {7, 129, 300}};
      c.format = f, c.Hq = 32, c.Hkv = 8, c.D = 128, c.lse = true;
      run(s, c, seed++);
      c.window = 50;
      run(s, c, seed++);
    }
}

// Quantised caches at every head dim and block size, odd key counts and windows: on the cpu
// this covers the int8 integer-dot kernels (D % 32 == 0; D = 96 ends on a 32-column tile), the
// int8 float path (D = 80), fp8, and steps of keys that straddle blocks.
TEST_P(Paged, QuantizedCachesEveryHeadDimAndBlockSize) {
  Stream s(device());
  if (!supports(DType::i8)) GTEST_SKIP() << "no i8";
  uint32_t seed = 5270;
  for (KvCacheFormat f : {KvCacheFormat::int8, KvCacheFormat::fp8_e4m3fn})
    for (int64_t D : {64, 80, 96, 128, 256})
      for (int64_t bs : {16, 64}) {
        PagedCase c{{1, 1, 3, 1}, {1, 37, 95, 130}};
        c.format = f, c.D = D, c.bs = bs, c.Hq = 12, c.Hkv = 3, c.lse = true;
        c.window = D == 96 ? 50 : 0;
        run(s, c, seed++);
      }
}

TEST_P(Paged, SlidingWindowNonCausalAndLse) {
  Stream s(device());
  uint32_t seed = 5300;
  for (int64_t w : {1, 5, 40, 5000}) {
    PagedCase c{{1, 7, 33, 1}, {1000, 40, 33, 100}};
    c.window = w, c.lse = true, c.Hq = 8, c.Hkv = 2;
    run(s, c, seed++);
  }
  PagedCase nc{{1, 7, 4}, {50, 7, 300}};
  nc.causal = false, nc.lse = true;
  run(s, nc, seed++);
  nc.window = 16;  // without causal the window is still a lower bound
  run(s, nc, seed++);
}

TEST_P(Paged, HeadMajorCacheAndStridedOutput) {
  Stream s(device());
  PagedCase c{{1, 7, 1}, {100, 30, 64}};
  c.head_major = true, c.out_layout = Layout::padded, c.lse = true;
  run(s, c, 5400);
  c.format = KvCacheFormat::int8, c.bs = 32, c.out_layout = Layout::transposed;
  run(s, c, 5401);
}

// A window past every position is no window: also for rows before the first key (more queries
// than keys, p < 0, non-causal) and windows near INT32_MAX, where p - W + 1 overflows 32 bits.
TEST_P(Paged, WindowPastEveryPositionIsNoWindow) {
  Stream s(device());
  uint32_t seed = 5450;
  for (const KvCacheFormat f : {KvCacheFormat::plain, KvCacheFormat::int8})
    for (const int64_t w : {int64_t{INT32_MAX}, int64_t{INT32_MAX} - 5, int64_t{1} << 22}) {
      PagedCase c{{7, 1, 3}, {3, 40, 20}};
      c.format = f;
      c.causal = false;
      c.window = w;
      run(s, c, seed++);
    }
}

// Block ids past num_blocks or negative inside a sequence (skipped), lengths past the table
// (clamped), cu_seqlens_q past T and non-monotonic (clamped), max_seqlen_q below a query count
// (clamped): nothing outside the cache is read, uncovered output rows stay as they were.
TEST_P(Paged, DeviceValuesAreClampedOrSkipped) {
  Stream s(device());
  PagedCase c{{1, 4, 1}, {40, 20, 33}};
  c.table_edits = {{1, 1 << 20}, {2, -5}};  // sequence 0's blocks 1 and 2 (of max_blocks columns)
  run(s, c, 5500);
  PagedCase lens{{1, 1}, {40, 20}};
  lens.lens_override = {40, 100000};  // past the table's capacity: clamped to it (NaN slots were never read:
  lens.max_seqlen_k = 100000;         // the clamped length reaches only -1 entries, which are skipped)
  run(s, lens, 5501);
  PagedCase cu{{2, 3, 1}, {10, 20, 5}};
  cu.cu_override = {0, 2, 999, 1};  // sequence 1 clamped to [2, 6), sequence 2 empty
  run(s, cu, 5502);
  PagedCase mq{{5, 1}, {10, 20}};
  mq.max_seqlen_q = 3;  // sequence 0 keeps its first 3 queries; the other 2 rows stay poisoned
  run(s, mq, 5503);
  PagedCase neg{{2, 1, 1}, {30, 20, 9}};
  neg.cu_override = {-5, 2, 3, 4};  // a negative start: clamped to 0
  neg.lens_override = {30, -7, 9};  // a negative length: clamped to 0 (the row sees no key: zeros)
  neg.table_edits = {{0, INT32_MIN}, {8, INT32_MAX}};  // extreme ids (max_blocks is 4): skipped
  run(s, neg, 5504);
  PagedCase gap{{2, 8, 2}, {10, 20, 30}};
  gap.cu_override = {0, 12, 3, 5};  // decreasing: sequence 0 keeps [0, 2), 1 is empty, 2 is [3, 5)
  gap.max_seqlen_q = 2;
  run(s, gap, 5505);
}

TEST_P(Paged, EmptyWork) {
  Stream s(device());
  PagedCase zero_q{{1, 0, 2}, {5, 9, 0}};  // a sequence with no new token; one with no key at all
  run(s, zero_q, 5600);
  // B = 0 and T = 0: legal, nothing to do.
  KvCache cache;
  cache.k = Tensor::empty(device(), DType::f16, {2, 16, 2, 64});
  cache.v = Tensor::empty(device(), DType::f16, {2, 16, 2, 64});
  Tensor q = Tensor::empty(device(), DType::f16, {0, 4, 64}),
         out = Tensor::empty(device(), DType::f16, {0, 4, 64});
  Tensor tables = Tensor::empty(device(), DType::i32, {0, 4}), cu = Tensor::empty(device(), DType::i32, {1});
  Tensor lens = Tensor::empty(device(), DType::i32, {0});
  ops::paged_attention(s, q, cache, tables, cu, lens, 0, 0, out);
  Tensor k0 = Tensor::empty(device(), DType::f16, {0, 2, 64}),
         slots = Tensor::empty(device(), DType::i64, {0});
  ops::kv_cache_write(s, k0, k0, slots, cache);
  Tensor mapping = Tensor::empty(device(), DType::i32, {0, 2});
  ops::copy_blocks(s, cache, mapping);
  s.synchronize();
}

// ---- kv_cache_write and copy_blocks ----

struct WriteCase {
  KvCacheFormat format;
  DType cache_t, in_t, slot_t;
  int64_t bs, Hkv, D;
  bool head_major;
};

TEST_P(Paged, KvCacheWriteEveryFormat) {
  Stream s(device());
  uint32_t seed = 5700;
  const WriteCase cases[] = {
      {KvCacheFormat::plain, DType::f16, DType::f16, DType::i32, 16, 2, 64, false},
      {KvCacheFormat::plain, DType::bf16, DType::f32, DType::i64, 32, 3, 128, true},
      {KvCacheFormat::plain, DType::f32, DType::f16, DType::i32, 64, 1, 80, false},
      {KvCacheFormat::int8, DType::i8, DType::f16, DType::i64, 16, 2, 128, false},
      {KvCacheFormat::int8, DType::i8, DType::bf16, DType::i32, 32, 2, 64, true},
      {KvCacheFormat::fp8_e4m3fn, DType::i8, DType::f32, DType::i32, 16, 2, 64, false},
      {KvCacheFormat::fp8_e4m3fn, DType::i8, DType::f16, DType::i64, 64, 1, 256, true},
  };
  for (const WriteCase& w : cases) {
    if (!supports(w.in_t) || !supports(w.cache_t)) continue;
    SCOPED_TRACE(std::string(kv_cache_format_name(w.format)) + " cache " + dtype_name(w.cache_t) + " in " +
                 dtype_name(w.in_t) + " slots " + dtype_name(w.slot_t) + " bs " + std::to_string(w.bs));
    const int64_t nb = 5, T = 23;
    std::mt19937 rng(seed++);
    // Distinct valid slots, some -1, one past the cache and one very negative: skipped.
    std::vector<int64_t> slots(static_cast<size_t>(nb * w.bs));
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), rng);
    slots.resize(static_cast<size_t>(T));
    slots[3] = -1, slots[10] = -1, slots[11] = nb * w.bs, slots[17] = -(int64_t{1} << 40);
    if (w.slot_t == DType::i32) slots[17] = -7;
    const HostTensor k = random({T, w.Hkv, w.D}, w.in_t, seed + 100, -2.0, 2.0);
    const HostTensor v = random({T, w.Hkv, w.D}, w.in_t, seed + 200, -3.0, 3.0);
    Tensor K = upload(s, k, w.in_t, Layout::padded), V = upload(s, v, w.in_t);
    Tensor S = upload(s, HostTensor([&] {
                        HostTensor h({T});
                        for (int64_t i = 0; i < T; ++i)
                          h[i] = static_cast<double>(slots[static_cast<size_t>(i)]);
                        return h;
                      }()),
                      w.slot_t);
    // The cache (and scales) inside guard regions, pre-filled with a sentinel.
    const std::vector<int64_t> shape = w.head_major ? std::vector<int64_t>{nb, w.Hkv, w.bs, w.D}
                                                    : std::vector<int64_t>{nb, w.bs, w.Hkv, w.D};
    GuardedOutput ck(s, shape, w.cache_t), cv(s, shape, w.cache_t);
    GuardedOutput sk(s, {nb, w.bs, w.Hkv}, DType::f32), sv(s, {nb, w.bs, w.Hkv}, DType::f32);
    HostTensor sentinel(shape), ssent({nb, w.bs, w.Hkv});
    std::fill(sentinel.v.begin(), sentinel.v.end(), 3.0);
    std::fill(ssent.v.begin(), ssent.v.end(), -1.0);
    ck.set(s, sentinel), cv.set(s, sentinel), sk.set(s, ssent), sv.set(s, ssent);
    KvCache cache;
    cache.format = w.format;
    cache.k = w.head_major ? ck.tensor().transpose(1, 2) : ck.tensor();
    cache.v = w.head_major ? cv.tensor().transpose(1, 2) : cv.tensor();
    if (w.format == KvCacheFormat::int8) cache.k_scales = sk.tensor(), cache.v_scales = sv.tensor();
    cache.k_scale = 0.02f, cache.v_scale = 0.05f;
    PORTA_OR_SKIP(ops::kv_cache_write(s, K, V, S, cache));
    // Expected storage: sentinel except the written slots.
    for (int pass = 0; pass < 2; ++pass) {
      const HostTensor& x = pass == 0 ? k : v;
      const HostTensor got = (pass == 0 ? ck : cv).result(s);
      const HostTensor got_scales = (pass == 0 ? sk : sv).result(s);
      const float fp8_scale = pass == 0 ? cache.k_scale : cache.v_scale;
      std::vector<int64_t> owner(static_cast<size_t>(nb * w.bs), -1);
      for (int64_t t = 0; t < T; ++t)
        if (slots[static_cast<size_t>(t)] >= 0 && slots[static_cast<size_t>(t)] < nb * w.bs)
          owner[static_cast<size_t>(slots[static_cast<size_t>(t)])] = t;
      int64_t bad = 0;
      for (int64_t slot = 0; slot < nb * w.bs; ++slot)
        for (int64_t hk = 0; hk < w.Hkv; ++hk) {
          const int64_t blk = slot / w.bs, off = slot % w.bs, t = owner[static_cast<size_t>(slot)];
          const int64_t srow = (blk * w.bs + off) * w.Hkv + hk;
          const int64_t crow = w.head_major ? (blk * w.Hkv + hk) * w.bs + off : srow;
          double amax = 0;
          if (t >= 0)
            for (int64_t d = 0; d < w.D; ++d) amax = std::max(amax, std::fabs(x[(t * w.Hkv + hk) * w.D + d]));
          if (w.format == KvCacheFormat::int8)
            bad +=
                t < 0 ? got_scales[srow] != -1.0 : std::fabs(got_scales[srow] - amax / 127.0) > 1e-6 * amax;
          for (int64_t d = 0; d < w.D; ++d) {
            const double g = got[crow * w.D + d];
            if (t < 0) {
              bad += g != 3.0;
              continue;
            }
            const double want = x[(t * w.Hkv + hk) * w.D + d];
            switch (w.format) {
              case KvCacheFormat::plain: {
                std::vector<uint8_t> tmp(8);
                store_from_double(w.cache_t, tmp.data(), 0, want);
                bad += g != load_as_double(w.cache_t, tmp.data(), 0);
                break;
              }
              case KvCacheFormat::int8:  // round(x * 127 / amax), within one code of the f64 value
                bad += std::fabs(g - want * 127.0 / amax) > 0.5 + 1e-3;
                break;
              case KvCacheFormat::fp8_e4m3fn: {  // one rounding to e4m3 (relative step 2^-3)
                const double got_v = fp8_value(g) * fp8_scale;
                bad += !(std::fabs(got_v - want) <= std::fabs(want) * 0.0625 + fp8_scale * 0x1p-9);
                break;
              }
            }
          }
        }
      EXPECT_EQ(bad, 0) << (pass == 0 ? "k" : "v") << " cache";
    }
  }
}

TEST_P(Paged, CopyBlocksSkipsBadIds) {
  Stream s(device());
  for (KvCacheFormat f : {KvCacheFormat::plain, KvCacheFormat::int8}) {
    const int64_t nb = 6, bs = 16, H = 2, D = 64;
    const DType t = f == KvCacheFormat::plain ? DType::bf16 : DType::i8;
    const HostTensor k = random({nb, bs, H, D}, t, 5800, -100, 100),
                     v = random({nb, bs, H, D}, t, 5801, -100, 100);
    const HostTensor ks = random({nb, bs, H}, DType::f32, 5802), vs = random({nb, bs, H}, DType::f32, 5803);
    GuardedOutput ck(s, {nb, bs, H, D}, t), cv(s, {nb, bs, H, D}, t);
    GuardedOutput sk(s, {nb, bs, H}, DType::f32), sv(s, {nb, bs, H}, DType::f32);
    ck.set(s, k), cv.set(s, v), sk.set(s, ks), sv.set(s, vs);
    KvCache cache;
    cache.format = f;
    cache.k = ck.tensor(), cache.v = cv.tensor();
    if (f == KvCacheFormat::int8) cache.k_scales = sk.tensor(), cache.v_scales = sv.tensor();
    const std::vector<int64_t> map = {0,  3, 1, 4, 2, 99,
                                      -1, 5, 5, 5, 1, 2};  // (0->3), (1->4), bad, bad, self, (1->2)
    Tensor M = Tensor::from_host(s, DType::i64, {6, 2}, map.data());
    PORTA_OR_SKIP(ops::copy_blocks(s, cache, M));
    auto expect = [&](const HostTensor& x, int64_t per_block) {
      HostTensor e = x;
      for (auto [src, dst] : {std::pair<int64_t, int64_t>{0, 3}, {1, 4}, {1, 2}})
        std::copy_n(x.v.begin() + src * per_block, per_block, e.v.begin() + dst * per_block);
      return e;
    };
    EXPECT_TRUE(equal(ck.result(s), expect(k, bs * H * D)));
    EXPECT_TRUE(equal(cv.result(s), expect(v, bs * H * D)));
    if (f == KvCacheFormat::int8) {
      EXPECT_TRUE(equal(sk.result(s), expect(ks, bs * H)));
      EXPECT_TRUE(equal(sv.result(s), expect(vs, bs * H)));
    }
  }
}

// kv_cache_write then paged_attention, as an engine's step runs: the written cache read back
// through the reference must give the same attention as the device.
TEST_P(Paged, WriteThenAttend) {
  Stream s(device());
  const int64_t nb = 8, bs = 16, Hkv = 2, Hq = 4, D = 64, T = 40;
  const HostTensor k = random({T, Hkv, D}, DType::f16, 5900), v = random({T, Hkv, D}, DType::f16, 5901);
  const HostTensor q = random({T, Hq, D}, DType::f16, 5902);
  // Two sequences: 25 prompt tokens in blocks {5, 2}, 15 tokens in block {7}.
  const std::vector<int32_t> table = {5, 2, -1, 7, -1, -1}, cu = {0, 25, 40}, lens = {25, 15};
  HostTensor slots({T});
  for (int64_t t = 0; t < T; ++t)
    slots[t] = t < 25 ? table[static_cast<size_t>(t / bs)] * bs + t % bs : 7 * bs + (t - 25);
  KvCache cache;
  cache.k = Tensor::empty(device(), DType::f16, {nb, bs, Hkv, D});
  cache.v = Tensor::empty(device(), DType::f16, {nb, bs, Hkv, D});
  ops::fill(s, cache.k, std::nan(""));
  ops::fill(s, cache.v, std::nan(""));
  PORTA_OR_SKIP(ops::kv_cache_write(s, upload(s, k, DType::f16), upload(s, v, DType::f16),
                                    upload(s, slots, DType::i32), cache));
  GuardedOutput out(s, {T, Hq, D}, DType::f16);
  ops::paged_attention(s, upload(s, q, DType::f16), cache,
                       Tensor::from_host(s, DType::i32, {2, 3}, table.data()),
                       Tensor::from_host(s, DType::i32, {3}, cu.data()),
                       Tensor::from_host(s, DType::i32, {2}, lens.data()), 25, 25, out.tensor());
  const HostTensor kc = download(s, cache.k), vc = download(s, cache.v);
  HostTensor before({T, Hq, D});
  const HostTensor ref =
      ref::paged_attention(q, kc, vc, table, 3, cu, lens, 25, 25, true, 0.125, 0, before, nullptr);
  EXPECT_TRUE(close(out.result(s), ref, OpClass::matmul, DType::f16));
}

// ---- packed-token companions and zero-size work (core rules: every device runs them) ----

class ServingCompanions : public DeviceTest {};

TEST_P(ServingCompanions, PackedRopeWithPositions) {
  Stream s(device());
  const int64_t T = 13, H = 3, D = 64;
  const HostTensor x = random({T, H, D}, DType::f32, 6000);
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[static_cast<size_t>(t)] = static_cast<int32_t>((t * 37) % 500);
  GuardedOutput out(s, {T, H, D}, DType::f32, Layout::padded);
  ops::rope(s, upload(s, x, DType::f32), Tensor::from_host(s, DType::i32, {T}, pos.data()), out.tensor());
  // The reference on [1, H, T, D].
  HostTensor xb({1, H, T, D});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) xb[(h * T + t) * D + d] = x[(t * H + h) * D + d];
  const HostTensor rb = ref::rope(xb, pos, false, ops::RopeStyle::neox, 10000.0, static_cast<int>(D));
  HostTensor r({T, H, D});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) r[(t * H + h) * D + d] = rb[(h * T + t) * D + d];
  EXPECT_TRUE(close(out.result(s), r, OpClass::reduction, DType::f32));
}

// Engines meet empty steps: every op given an empty output does nothing, without error.
TEST_P(ServingCompanions, ZeroExtentTensorsAreLegal) {
  Stream s(device());
  const Device d = device();
  Tensor e = Tensor::empty(d, DType::f32, {0, 64});
  EXPECT_EQ(e.numel(), 0);
  Tensor w = Tensor::from_host(s, DType::f32, {64}, std::vector<float>(64, 1.0f).data());
  ops::rms_norm(s, e, w, e);
  ops::layer_norm(s, e, w, nullptr, e);
  ops::softmax(s, e, e);
  ops::add(s, e, w, e);
  ops::silu_mul(s, e, e, e);
  ops::scale(s, e, 2.0f, e);
  ops::fill(s, e, 1.0);
  Tensor e2 = Tensor::empty(d, DType::f32, {0, 64});
  ops::copy(s, e, e2);
  ops::cast(s, e, e2);
  Tensor c = Tensor::empty(d, DType::f32, {0, 32});
  ops::gemm(s, e, Tensor::empty(d, DType::f32, {64, 32}), c);  // M = 0
  Tensor ids = Tensor::empty(d, DType::i32, {0});
  ops::embedding(s, Tensor::empty(d, DType::f32, {10, 64}), ids, e);
  Tensor am = Tensor::empty(d, DType::i32, {0});
  ops::argmax(s, e, am);
  Tensor x3 = Tensor::empty(d, DType::f32, {0, 4, 64});
  ops::rope(s, x3, ids, x3);
  Tensor no_rows = Tensor::empty(d, DType::f32, {1, 2, 0, 64});
  ops::attention(s, no_rows, Tensor::empty(d, DType::f32, {1, 2, 5, 64}),
                 Tensor::empty(d, DType::f32, {1, 2, 5, 64}), no_rows);
  // Views: empty slices and reshapes, host transfers of nothing.
  Tensor full = Tensor::empty(d, DType::f32, {4, 8});
  Tensor none = full.slice(0, 2, 2);
  EXPECT_EQ(none.numel(), 0);
  EXPECT_EQ(none.reshape({0, 4, 2}).numel(), 0);
  none.copy_from_host(s, nullptr);
  none.copy_to_host(s, nullptr);
  s.synchronize();
}

PORTA_INSTANTIATE_ON_DEVICES(Paged);
PORTA_INSTANTIATE_ON_DEVICES(ServingCompanions);

}  // namespace
}  // namespace porta::test
