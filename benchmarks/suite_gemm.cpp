// GEMM suite: LLM projection shapes (Llama-3-8B, activations x weightsᵀ with
// weights stored [N, K] as checkpoints ship them) and square sizes, over the
// dtype combinations inference uses. f32 runs are interleaved with the
// device's baseline (OpenBLAS sgemm on the CPU) on the same shape.
#include <algorithm>
#include <cmath>
#include <vector>

#include "bench_common.h"

namespace porta_bench {
namespace {

using porta::DType;

struct GemmDtypes {
  const char* name;  // as it appears in the benchmark name
  DType a, b, c;
};

// f32xbf16w: f32 activations times bf16 weights (halves weight traffic), f32 out.
const GemmDtypes kF32{"f32", DType::f32, DType::f32, DType::f32};
const GemmDtypes kF16{"f16", DType::f16, DType::f16, DType::f16};
const GemmDtypes kBF16{"bf16", DType::bf16, DType::bf16, DType::bf16};
const GemmDtypes kF32xBF16W{"f32xbf16w", DType::f32, DType::bf16, DType::f32};

struct GemmShape {
  int64_t m, n, k;
  bool weights_nk;  // B is a [N, K] weight used transposed (projection); else B is [K, N]
  const char* tag;  // what the shape is, for the report
};

struct ProjectionNK {
  int64_t n, k;
  const char* tag;
};

// Llama-3-8B: hidden 4096, 32 q heads / 8 kv heads of 128, FFN 14336.
const ProjectionNK kLlama3_8B[] = {
    {4096, 4096, "llama3-8b q/o proj"},
    {1024, 4096, "llama3-8b k/v proj"},
    {14336, 4096, "llama3-8b gate/up proj"},
    {4096, 14336, "llama3-8b down proj"},
};

std::vector<GemmShape> full_shapes() {
  std::vector<GemmShape> out;
  for (int64_t m : {1, 16, 128, 512, 4096})
    for (const auto& p : kLlama3_8B) out.push_back({m, p.n, p.k, true, p.tag});
  for (int64_t s : {1024, 2048, 4096}) out.push_back({s, s, s, false, "square"});
  return out;
}

// Decode-sized GEMMs (M <= 16) stream their weights, which in a model never sit in
// the last-level cache; rotating over copies that together pass any LLC keeps the
// benchmark honest (porta and the baseline alike).
constexpr int64_t kStreamingM = 16;
constexpr double kRotateBytes = 256.0 * (1 << 20);
constexpr int kMaxCopies = 8;

void bench_gemm(benchmark::State& state, GemmShape shape, GemmDtypes dts) {
  const int64_t m = shape.m, n = shape.n, k = shape.k;
  const double b_bytes = static_cast<double>(n * k) * static_cast<double>(porta::dtype_size(dts.b));
  const int copies =
      m <= kStreamingM
          ? static_cast<int>(std::clamp(std::ceil(kRotateBytes / b_bytes), 1.0, double{kMaxCopies}))
          : 1;
  porta::Tensor a, c;
  std::vector<porta::Tensor> bs;
  try {
    a = random_tensor(dts.a, {m, k}, 1);
    for (int i = 0; i < copies; ++i) {
      const uint64_t seed = 2 + static_cast<uint64_t>(i);
      bs.push_back(shape.weights_nk ? random_tensor(dts.b, {n, k}, seed)
                                    : random_tensor(dts.b, {k, n}, seed));
    }
    c = porta::Tensor::empty(env().device, dts.c, {m, n});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::ops::GemmOptions opt;
  opt.trans_b = shape.weights_nk;

  BaselineCase* base = nullptr;
  if (env().baseline) {
    GemmProblem p;
    p.m = m, p.n = n, p.k = k, p.trans_b = shape.weights_nk, p.a = dts.a, p.b = dts.b, p.c = dts.c;
    p.b_copies = copies;
    base = cached_baseline("gemm", [&p] { return env().baseline->prepare_gemm(p); });
  }
  double base_seconds = 0;
  size_t next = 0;
  const double seconds = run_timed(
      state,
      [&] {
        porta::ops::gemm(env().stream(), a, bs[next], c, opt);
        next = (next + 1) % bs.size();
      },
      base, &base_seconds);
  if (seconds <= 0) return;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  set_flops_counters(state, flops, seconds,
                     peak_tflops_for(dts.a == DType::f32 && dts.b == DType::f32 ? DType::f32 : DType::f16));
  if (base) set_baseline_counters(state, seconds, base_seconds);
  if (m <= kStreamingM) {  // weight-streaming regime: bandwidth is the figure that matters
    const double gbps = b_bytes * static_cast<double>(state.iterations()) / seconds / 1e9;
    state.counters["weight_GBps"] = gbps;
    if (env().peak_gbps > 0) state.counters["pct_peak_bw"] = 100.0 * gbps / env().peak_gbps;
    state.counters["b_copies"] = copies;
  }
  state.SetLabel(shape.tag);
}

std::string gemm_name(const GemmShape& s, const GemmDtypes& d) {
  return "gemm/" + std::string(d.name) + "/M=" + std::to_string(s.m) + "/N=" + std::to_string(s.n) +
         "/K=" + std::to_string(s.k) + (s.weights_nk ? "/BT" : "");
}

}  // namespace

void register_gemm_suite() {
  std::vector<std::pair<GemmShape, GemmDtypes>> cases;
  if (env().quick) {
    // The target rows (2048³ f32 and bf16 weights) plus decode (M=1) and a prefill chunk.
    const GemmShape sq2048{2048, 2048, 2048, false, "square"};
    const GemmShape decode_qo{1, 4096, 4096, true, "llama3-8b q/o proj"};
    const GemmShape decode_up{1, 14336, 4096, true, "llama3-8b gate/up proj"};
    const GemmShape prefill_qo{512, 4096, 4096, true, "llama3-8b q/o proj"};
    cases = {{sq2048, kF32},          {sq2048, kF32xBF16W},    {sq2048, kBF16},   {decode_qo, kF32},
             {decode_qo, kF32xBF16W}, {decode_up, kF32xBF16W}, {prefill_qo, kF32}};
  } else {
    for (const GemmDtypes& d : {kF32, kF32xBF16W, kBF16, kF16})
      for (const GemmShape& s : full_shapes()) cases.push_back({s, d});
  }
  for (const auto& [shape, dts] : cases) {
    register_bench(gemm_name(shape, dts),
                   [shape = shape, dts = dts](benchmark::State& st) { bench_gemm(st, shape, dts); });
  }
}

}  // namespace porta_bench
