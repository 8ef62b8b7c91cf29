// Paged (serving) attention suite, Llama-3-8B geometry (Hq 32, Hkv 8, D 128), block size 16,
// block tables shuffled over the whole cache (as an engine's allocator leaves them):
//  * decode, B = 16 sequences at KV 4096, f16 / int8 / fp8 caches: GB/s of K+V (+ int8 scales)
//    read, with the dense decode of the same shape (f16 [B, Hkv, S, D] caches) and ops::copy
//    run interleaved in the same loop, so vs_dense and vs_copy_bw compare one machine state;
//  * a mixed batch (4 prefill chunks of 512 tokens after 1024 cached + 28 decode sequences at
//    KV 2048) in one call against its prefill part and decode part run separately, interleaved:
//    mixed_vs_parts = t(mixed) / (t(prefill part) + t(decode part)) (target <= 1.25); and a
//    reduced mix (paged/mixed_small: 1 chunk of 64 after 960 + the same decode steps) for
//    quick iterations on slow devices.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <vector>

#include "bench_common.h"

namespace porta_bench {
namespace {

using porta::DType;
using porta::KvCacheFormat;
using Clock = std::chrono::steady_clock;

constexpr int64_t kHq = 32, kHkv = 8, kD = 128, kBlock = 16;

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  env().stream().synchronize();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A batch of sequences over one shared block cache.
struct PagedBatch {
  porta::KvCache cache;
  porta::Tensor q, out, tables, cu, lens;
  int64_t max_q = 0, max_k = 0, T = 0;
  double kv_bytes = 0;  // K + V (+ scales) the call reads

  void run() { porta::ops::paged_attention(env().stream(), q, cache, tables, cu, lens, max_q, max_k, out); }
};

int8_t random_code(std::mt19937& rng, KvCacheFormat f) {
  const int c = static_cast<int>(rng() & 0xff);
  if (f == KvCacheFormat::fp8_e4m3fn) return static_cast<int8_t>(c & 0xb7);  // finite, small
  return static_cast<int8_t>(std::clamp(c - 128, -127, 127));
}

porta::KvCache make_cache(int64_t blocks, KvCacheFormat f, uint64_t seed) {
  porta::KvCache c;
  c.format = f;
  const porta::Shape shape{blocks, kBlock, kHkv, kD};
  if (f == KvCacheFormat::plain) {
    c.k = random_tensor(DType::f16, shape, seed);
    c.v = random_tensor(DType::f16, shape, seed + 1);
    return c;
  }
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::vector<int8_t> codes(static_cast<size_t>(shape.numel()));
  for (porta::Tensor* t : {&c.k, &c.v}) {
    for (auto& x : codes) x = random_code(rng, f);
    *t = porta::Tensor::from_host(env().stream(), DType::i8, shape, codes.data());
  }
  if (f == KvCacheFormat::int8) {
    c.k_scales = random_tensor(DType::f32, {blocks, kBlock, kHkv}, seed + 2, 0.004f, 0.008f);
    c.v_scales = random_tensor(DType::f32, {blocks, kBlock, kHkv}, seed + 3, 0.004f, 0.008f);
  }
  c.k_scale = 0.02f, c.v_scale = 0.02f;
  return c;
}

// Sequences with (q_len, kv_len) each over a shuffled block table of one cache.
PagedBatch make_batch(const std::vector<std::pair<int64_t, int64_t>>& seqs, KvCacheFormat f, uint64_t seed) {
  PagedBatch p;
  const auto B = static_cast<int64_t>(seqs.size());
  int64_t blocks = 0, max_blocks = 1;
  std::vector<int32_t> cu{0}, lens;
  for (auto [ql, kl] : seqs) {
    const int64_t nb = (kl + kBlock - 1) / kBlock;
    blocks += nb;
    max_blocks = std::max(max_blocks, nb);
    cu.push_back(cu.back() + static_cast<int32_t>(ql));
    lens.push_back(static_cast<int32_t>(kl));
    p.max_q = std::max(p.max_q, ql);
    p.max_k = std::max(p.max_k, kl);
    const double es = f == KvCacheFormat::plain ? 2.0 : 1.0;
    p.kv_bytes += 2.0 * static_cast<double>(kl * kHkv) * (kD * es + (f == KvCacheFormat::int8 ? 4.0 : 0.0));
  }
  std::vector<int32_t> ids(static_cast<size_t>(blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(static_cast<uint32_t>(seed)));
  std::vector<int32_t> table(static_cast<size_t>(B * max_blocks), -1);
  size_t next = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < (seqs[static_cast<size_t>(b)].second + kBlock - 1) / kBlock; ++j)
      table[static_cast<size_t>(b * max_blocks + j)] = ids[next++];
  porta::Stream& s = env().stream();
  p.T = cu.back();
  p.cache = make_cache(blocks, f, seed + 10);
  p.q = random_tensor(DType::f16, {p.T, kHq, kD}, seed + 20);
  p.out = porta::Tensor::empty(env().device, DType::f16, {p.T, kHq, kD});
  p.tables = porta::Tensor::from_host(s, DType::i32, {B, max_blocks}, table.data());
  p.cu = porta::Tensor::from_host(s, DType::i32, {B + 1}, cu.data());
  p.lens = porta::Tensor::from_host(s, DType::i32, {B}, lens.data());
  return p;
}

void bench_paged_decode(benchmark::State& state, KvCacheFormat f, int64_t batch, int64_t kv) {
  PagedBatch p;
  porta::Tensor dq, dk, dv, dout, csrc, cdst;
  // 256 MiB f32 read + written, or the device's largest allocation (lavapipe: 128 MiB).
  const int64_t copy_elems = std::min<int64_t>(
      int64_t{64} << 20, static_cast<int64_t>(env().device.info().max_allocation_bytes / 4));
  try {
    p = make_batch(std::vector<std::pair<int64_t, int64_t>>(static_cast<size_t>(batch), {1, kv}), f, 31);
    dq = random_tensor(DType::f16, {batch, kHq, 1, kD}, 41);
    dk = random_tensor(DType::f16, {batch, kHkv, kv, kD}, 42);
    dv = random_tensor(DType::f16, {batch, kHkv, kv, kD}, 43);
    dout = porta::Tensor::empty(env().device, DType::f16, {batch, kHq, 1, kD});
    csrc = random_tensor(DType::f32, {copy_elems}, 44);
    cdst = porta::Tensor::empty(env().device, DType::f32, {copy_elems});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::Stream& s = env().stream();
  auto dense = [&] { porta::ops::attention(s, dq, dk, dv, dout); };
  auto copy = [&] { porta::ops::copy(s, csrc, cdst); };
  double t_paged = 0, t_dense = 0, t_copy = 0;
  try {
    seconds_of([&] { p.run(); });  // warm-up
    seconds_of(dense);
    seconds_of(copy);
    for (auto _ : state) {
      const double t = seconds_of([&] { p.run(); });
      state.SetIterationTime(t);
      t_paged += t;
      t_dense += seconds_of(dense);
      t_copy += seconds_of(copy);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const auto it = static_cast<double>(state.iterations());
  set_bytes_counters(state, p.kv_bytes, t_paged);
  const double dense_bytes = 2.0 * static_cast<double>(batch * kHkv * kv * kD) * 2.0;
  const double paged_gbps = p.kv_bytes * it / t_paged / 1e9, dense_gbps = dense_bytes * it / t_dense / 1e9;
  const double copy_gbps = 2.0 * 4.0 * static_cast<double>(copy_elems) * it / t_copy / 1e9;
  state.counters["dense_GBps"] = dense_gbps;
  state.counters["vs_dense_bw"] = paged_gbps / dense_gbps;
  state.counters["copy_GBps"] = copy_gbps;
  state.counters["vs_copy_bw"] = paged_gbps / copy_gbps;
}

// n_pre prefill chunks of `chunk` new tokens after `ctx` cached; n_dec decode sequences at KV kv_dec.
void bench_paged_mixed(benchmark::State& state, int64_t n_pre, int64_t chunk, int64_t ctx, int64_t n_dec,
                       int64_t kv_dec) {
  std::vector<std::pair<int64_t, int64_t>> prefill(static_cast<size_t>(n_pre), {chunk, ctx + chunk}),
      decode(static_cast<size_t>(n_dec), {1, kv_dec}), mixed = prefill;
  mixed.resize(static_cast<size_t>(n_pre + n_dec), {1, kv_dec});  // the prefill chunks, then the decode steps
  PagedBatch pm, pp, pd;
  try {
    pm = make_batch(mixed, KvCacheFormat::plain, 51);
    pp = make_batch(prefill, KvCacheFormat::plain, 52);
    pd = make_batch(decode, KvCacheFormat::plain, 53);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  double t_mixed = 0, t_parts = 0;
  try {
    seconds_of([&] { pm.run(); });
    seconds_of([&] { pp.run(); });
    seconds_of([&] { pd.run(); });
    for (auto _ : state) {
      const double t = seconds_of([&] { pm.run(); });
      state.SetIterationTime(t);
      t_mixed += t;
      t_parts += seconds_of([&] { pp.run(); }) + seconds_of([&] { pd.run(); });
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  // FLOPs: QKᵀ and PV over the visible keys (causal inside each prefill chunk).
  double flops = static_cast<double>(n_dec) * 4.0 * kHq * static_cast<double>(kv_dec) * kD;
  for (int64_t i = 0; i < chunk; ++i)
    flops += static_cast<double>(n_pre) * 4.0 * kHq * static_cast<double>(ctx + i + 1) * kD;
  set_flops_counters(state, flops, t_mixed, peak_tflops_for(DType::f16));
  state.counters["mixed_vs_parts"] = t_mixed / t_parts;
}

std::string geometry(int64_t b) {
  return "/B=" + std::to_string(b) + "/Hq=" + std::to_string(kHq) + "/Hkv=" + std::to_string(kHkv) +
         "/D=" + std::to_string(kD) + "/block=" + std::to_string(kBlock);
}

}  // namespace

void register_paged_suite() {
  for (auto [f, name] : {std::pair<KvCacheFormat, const char*>{KvCacheFormat::plain, "f16"},
                         {KvCacheFormat::int8, "int8"},
                         {KvCacheFormat::fp8_e4m3fn, "fp8"}}) {
    register_bench(std::string("paged/decode/") + name + geometry(16) + "/KV=4096",
                   [f = f](benchmark::State& st) { bench_paged_decode(st, f, 16, 4096); });
  }
  register_bench("paged/mixed/f16/4x512+1024,28x1@2048/Hq=32/Hkv=8/D=128/block=16",
                 [](benchmark::State& st) { bench_paged_mixed(st, 4, 512, 1024, 28, 2048); });
  // A reduced mix for iterating on slow devices (lavapipe runs the row above for ~20 minutes):
  // one short chunk, so the decode steps' share of the call is far larger than above.
  register_bench("paged/mixed_small/f16/1x64+960,28x1@2048/Hq=32/Hkv=8/D=128/block=16",
                 [](benchmark::State& st) { bench_paged_mixed(st, 1, 64, 960, 28, 2048); });
}

}  // namespace porta_bench
