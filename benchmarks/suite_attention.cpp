// Attention suite: Llama-3-8B geometry (32 query heads, 8 KV heads, head dim 128).
// Prefill is compute-bound (reported in TFLOP/s, causal work halved); decode is
// one query per sequence against a KV cache and bandwidth-bound (reported in GB/s
// of K+V read).
#include <algorithm>
#include <cmath>
#include <vector>

#include "bench_common.h"

namespace porta_bench {
namespace {

using porta::DType;

constexpr int64_t kHq = 32, kHkv = 8, kD = 128;

void bench_prefill(benchmark::State& state, DType dtype, int64_t seq, bool causal) {
  porta::Tensor q, k, v, out;
  try {
    q = random_tensor(dtype, {1, kHq, seq, kD}, 11);
    k = random_tensor(dtype, {1, kHkv, seq, kD}, 12);
    v = random_tensor(dtype, {1, kHkv, seq, kD}, 13);
    out = porta::Tensor::empty(env().device, dtype, {1, kHq, seq, kD});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::ops::AttentionOptions opt;
  opt.causal = causal;
  const double seconds = run_timed(state, [&] { porta::ops::attention(env().stream(), q, k, v, out, opt); });
  if (seconds <= 0) return;
  // QKᵀ and PV: 2 GEMMs of 2·Sq·Skv·D FLOPs per head; causal computes half of them.
  double flops = 4.0 * kHq * static_cast<double>(seq) * static_cast<double>(seq) * kD;
  if (causal) flops /= 2;
  set_flops_counters(state, flops, seconds, peak_tflops_for(dtype));
}

// Decode caches of a few MiB fit in the last-level cache, which a real model's
// per-layer caches never do; rotating over copies that together exceed any LLC
// makes every call read K/V from memory, as it would in a decoder.
constexpr double kRotateBytes = 256.0 * (1 << 20);
constexpr int kMaxCopies = 8;

void bench_decode(benchmark::State& state, DType dtype, int64_t batch, int64_t kv) {
  const double kv_bytes =
      2.0 * static_cast<double>(batch * kHkv * kv * kD) * static_cast<double>(porta::dtype_size(dtype));
  const int copies =
      static_cast<int>(std::clamp(std::ceil(kRotateBytes / kv_bytes), 1.0, double{kMaxCopies}));
  porta::Tensor q, out;
  std::vector<porta::Tensor> ks, vs;
  try {
    q = random_tensor(dtype, {batch, kHq, 1, kD}, 21);
    for (int i = 0; i < copies; ++i) {
      ks.push_back(random_tensor(dtype, {batch, kHkv, kv, kD}, 22 + 2 * static_cast<uint64_t>(i)));
      vs.push_back(random_tensor(dtype, {batch, kHkv, kv, kD}, 23 + 2 * static_cast<uint64_t>(i)));
    }
    out = porta::Tensor::empty(env().device, dtype, {batch, kHq, 1, kD});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::ops::AttentionOptions opt;
  opt.causal = true;  // decode: the single query sees the whole cache either way
  // The plain-copy reference (ops::copy of copy_reference_elements() f32) runs interleaved, so the ratio
  // decode/copy bandwidth sees the same machine state on this shared host.
  BaselineCase* copy_ref = nullptr;
  try {
    copy_ref = make_copy_reference(copy_reference_elements());
  } catch (const std::exception&) {
    copy_ref = nullptr;  // no copy kernel: the report falls back to the context figure
  }
  size_t next = 0;
  double copy_seconds = 0;
  const double seconds = run_timed(
      state,
      [&] {
        porta::ops::attention(env().stream(), q, ks[next], vs[next], out, opt);
        next = (next + 1) % ks.size();
      },
      copy_ref, &copy_seconds);
  if (seconds <= 0) return;
  set_bytes_counters(state, kv_bytes, seconds);
  if (copy_seconds > 0) {
    const double copy_gbps = 2.0 * 4 * static_cast<double>(copy_reference_elements()) *
                             static_cast<double>(state.iterations()) / copy_seconds / 1e9;
    state.counters["copy_GBps"] = copy_gbps;
    state.counters["vs_copy_bw"] = state.counters["GBps"] / copy_gbps;
  }
  const double flops = 4.0 * static_cast<double>(batch) * kHq * static_cast<double>(kv) * kD;
  state.counters["TFLOPS"] = flops * static_cast<double>(state.iterations()) / seconds / 1e12;
  state.counters["kv_copies"] = copies;
}

std::string geometry(int64_t b) {
  return "/B=" + std::to_string(b) + "/Hq=" + std::to_string(kHq) + "/Hkv=" + std::to_string(kHkv) +
         "/D=" + std::to_string(kD);
}

}  // namespace

void register_attention_suite() {
  const bool quick = env().quick;
  const std::vector<DType> dtypes = {DType::f32, DType::f16};
  // The quick set keeps three lengths so the report's throughput-against-length plots
  // have a shape to show.
  const std::vector<int64_t> seqs =
      quick ? std::vector<int64_t>{512, 1024, 2048} : std::vector<int64_t>{512, 1024, 2048, 4096, 8192};
  for (DType d : dtypes) {
    for (int64_t s : seqs) {
      for (bool causal : {true, false}) {
        if (!causal && (quick || s > 4096)) continue;  // keeps the full run's time in check
        const std::string name = "attention/prefill/" + dt(d) + geometry(1) + "/S=" + std::to_string(s) +
                                 (causal ? "/causal" : "/full");
        register_bench(name, [d, s, causal](benchmark::State& st) { bench_prefill(st, d, s, causal); });
      }
    }
  }
  // B = 16 at KV 4096 is in the quick set too: the paged decode rows are judged against it.
  const std::vector<int64_t> batches = std::vector<int64_t>{1, 16};
  const std::vector<int64_t> kvs =
      quick ? std::vector<int64_t>{1024, 4096, 16384} : std::vector<int64_t>{1024, 4096, 16384};
  for (DType d : dtypes) {
    for (int64_t b : batches) {
      for (int64_t kv : kvs) {
        if (b == 16 && kv != 4096 && quick) continue;
        const std::string name = "attention/decode/" + dt(d) + geometry(b) + "/KV=" + std::to_string(kv);
        register_bench(name, [d, b, kv](benchmark::State& st) { bench_decode(st, d, b, kv); });
      }
    }
  }
}

}  // namespace porta_bench
