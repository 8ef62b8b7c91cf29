// The cuda backend's target shapes (issue: CUDA backend), registered only on cuda/hip
// devices: bf16 GEMM 8192³ and Llama-3-70B prefill projections (M=4096) against cuBLAS in
// the same run; decode GEMV (M=1, 16; N=K=8192) and split-KV decode attention (B=16,
// KV=8192, GQA 32/8) against the device-to-device copy bandwidth measured interleaved;
// causal prefill attention (B=1, H=32, S=4096, D=128) in TFLOP/s for the SDPA comparison
// (benchmarks/sdpa_reference.py times PyTorch on the same shapes).
#include <algorithm>
#include <cmath>
#include <vector>

#include "bench_common.h"

namespace porta_bench {
namespace {

using porta::DType;

constexpr int64_t kCopyElements = int64_t{64} << 20;  // 256 MiB f32: well past any L2

struct TargetGemm {
  int64_t m, n, k;
  bool weights_nk;
  const char* tag;
};

const TargetGemm kGemms[] = {
    {8192, 8192, 8192, false, "square 8192"},
    {4096, 8192, 8192, true, "llama3-70b q/o proj"},
    {4096, 1024, 8192, true, "llama3-70b k/v proj"},
    {4096, 28672, 8192, true, "llama3-70b gate/up proj"},
    {4096, 8192, 28672, true, "llama3-70b down proj"},
    {1, 8192, 8192, true, "decode gemv"},
    {16, 8192, 8192, true, "decode gemv"},
    // sm90 GEMM rows: [N, K] square, fused Llama-3-70B projections (q|k|v, gate|up), skinny
    // prefill (128x128 tiles + split-K), and decode with [K, N] weights.
    {8192, 8192, 8192, true, "square 8192"},
    {4096, 10240, 8192, true, "llama3-70b fused qkv proj"},
    {4096, 57344, 8192, true, "llama3-70b fused gate|up proj"},
    {128, 8192, 8192, true, "short prefill"},
    {4, 8192, 8192, true, "decode gemv"},
    {1, 8192, 8192, false, "decode gemv"},
};

void add_copy_counters(benchmark::State& state, double bytes, double seconds, double copy_seconds) {
  set_bytes_counters(state, bytes, seconds);
  if (copy_seconds <= 0) return;
  const double copy_gbps =
      2.0 * 4 * kCopyElements * static_cast<double>(state.iterations()) / copy_seconds / 1e9;
  state.counters["copy_GBps"] = copy_gbps;
  state.counters["vs_copy_bw"] = state.counters["GBps"] / copy_gbps;
}

void bench_target_gemm(benchmark::State& state, TargetGemm g) {
  const bool decode = g.m <= 16;
  const double b_bytes = 2.0 * static_cast<double>(g.n * g.k);
  // Decode weights rotate over copies (>= 256 MiB together) so they stream from HBM.
  const int copies =
      decode ? static_cast<int>(std::clamp(std::ceil(256.0 * (1 << 20) / b_bytes), 1.0, 8.0)) : 1;
  porta::Tensor a, c;
  std::vector<porta::Tensor> bs;
  try {
    a = random_tensor(DType::bf16, {g.m, g.k}, 1);
    for (int i = 0; i < copies; ++i)
      bs.push_back(random_tensor(DType::bf16, g.weights_nk ? porta::Shape{g.n, g.k} : porta::Shape{g.k, g.n},
                                 2 + static_cast<uint64_t>(i)));
    c = porta::Tensor::empty(env().device, DType::bf16, {g.m, g.n});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::ops::GemmOptions opt;
  opt.trans_b = g.weights_nk;
  BaselineCase* ref = nullptr;
  if (decode) {
    ref = make_copy_reference(kCopyElements);
  } else if (env().baseline) {
    GemmProblem p;
    p.m = g.m, p.n = g.n, p.k = g.k, p.trans_b = g.weights_nk;
    p.a = p.b = p.c = DType::bf16;
    ref = cached_baseline("gemm", [&p] { return env().baseline->prepare_gemm(p); });
  }
  size_t next = 0;
  double ref_seconds = 0;
  const double seconds = run_timed(
      state,
      [&] {
        porta::ops::gemm(env().stream(), a, bs[next], c, opt);
        next = (next + 1) % bs.size();
      },
      ref, &ref_seconds);
  if (seconds <= 0) return;
  set_flops_counters(state,
                     2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k),
                     seconds, peak_tflops_for(DType::bf16));
  if (decode)
    add_copy_counters(state, b_bytes, seconds, ref_seconds);
  else if (ref)
    set_baseline_counters(state, seconds, ref_seconds);
  state.SetLabel(g.tag);
}

void bench_target_prefill(benchmark::State& state) {
  const int64_t B = 1, H = 32, S = 4096, D = 128;
  porta::Tensor q, k, v, out;
  try {
    q = random_tensor(DType::bf16, {B, H, S, D}, 11);
    k = random_tensor(DType::bf16, {B, H, S, D}, 12);
    v = random_tensor(DType::bf16, {B, H, S, D}, 13);
    out = porta::Tensor::empty(env().device, DType::bf16, {B, H, S, D});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::ops::AttentionOptions opt;
  opt.causal = true;
  const double seconds = run_timed(state, [&] { porta::ops::attention(env().stream(), q, k, v, out, opt); });
  if (seconds <= 0) return;
  // Q·Kᵀ and P·V, 2 FLOPs per MAC, causal: half the score matrix (as FlashAttention counts).
  set_flops_counters(state, 4.0 * B * H * static_cast<double>(S) * S * D / 2, seconds,
                     peak_tflops_for(DType::bf16));
  state.SetLabel("B=1 H=32 S=4096 D=128 causal (compare benchmarks/sdpa_reference.py)");
}

void bench_target_decode(benchmark::State& state) {
  const int64_t B = 16, Hq = 32, Hkv = 8, KV = 8192, D = 128;
  porta::Tensor q, k, v, out;
  try {
    q = random_tensor(DType::bf16, {B, Hq, 1, D}, 21);
    k = random_tensor(DType::bf16, {B, Hkv, KV, D}, 22);
    v = random_tensor(DType::bf16, {B, Hkv, KV, D}, 23);
    out = porta::Tensor::empty(env().device, DType::bf16, {B, Hq, 1, D});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  porta::ops::AttentionOptions opt;
  BaselineCase* copy_ref = make_copy_reference(kCopyElements);
  double copy_seconds = 0;
  const double seconds = run_timed(
      state, [&] { porta::ops::attention(env().stream(), q, k, v, out, opt); }, copy_ref, &copy_seconds);
  if (seconds <= 0) return;
  // 512 MiB of K and V per call: past the L2 of any GPU, so no rotation is needed.
  add_copy_counters(state, 2.0 * 2.0 * static_cast<double>(B * Hkv * KV * D), seconds, copy_seconds);
  state.SetLabel("B=16 KV=8192 GQA 32/8 D=128");
}

// Bandwidth-bound row ops at LLM shapes, GB/s (bytes read + written once) against the copy
// bandwidth measured interleaved: vs_copy_bw near 1 means the op streams like a copy.
struct RowsTarget {
  const char* op;  // rms_norm, softmax, rope, argmax
  DType dtype;
  int64_t rows, D;
};

const RowsTarget kRowsTargets[] = {
    {"rms_norm", DType::bf16, 16384, 4096},    {"rms_norm", DType::bf16, 16384, 8192},
    {"rms_norm", DType::f32, 16384, 4096},     {"rms_norm", DType::bf16, 16, 8192},
    {"softmax", DType::bf16, 32768, 4096},     {"softmax", DType::f32, 32768, 1024},
    {"rope", DType::bf16, 4 * 32 * 4096, 128},  // [B=4, H=32, S=4096, D=128], NeoX
    {"argmax", DType::f32, 64, 128256},        {"argmax", DType::bf16, 1, 128256},
};

void bench_target_rows(benchmark::State& state, RowsTarget t) {
  const std::string op = t.op;
  const bool rope = op == "rope";
  const porta::Shape shape = rope ? porta::Shape{4, 32, 4096, t.D} : porta::Shape{t.rows, t.D};
  porta::Tensor x, w, out, pos;
  try {
    x = random_tensor(t.dtype, shape, 31);
    if (op == "rms_norm") w = random_tensor(t.dtype, {t.D}, 32);
    if (op == "argmax") {
      out = porta::Tensor::empty(env().device, DType::i32, {t.rows});
    } else {
      out = porta::Tensor::empty(env().device, t.dtype, shape);
    }
    if (rope) {
      std::vector<int32_t> p(4096);
      for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int32_t>(i);
      pos = porta::Tensor::from_host(env().stream(), DType::i32, {4096}, p.data());
      env().stream().synchronize();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  BaselineCase* copy_ref = make_copy_reference(kCopyElements);
  double copy_seconds = 0;
  const double seconds = run_timed(
      state,
      [&] {
        if (op == "rms_norm") porta::ops::rms_norm(env().stream(), x, w, out);
        if (op == "softmax") porta::ops::softmax(env().stream(), x, out);
        if (rope) porta::ops::rope(env().stream(), x, pos, out);
        if (op == "argmax") porta::ops::argmax(env().stream(), x, out);
      },
      copy_ref, &copy_seconds);
  if (seconds <= 0) return;
  const double in_bytes = static_cast<double>(x.numel()) * static_cast<double>(porta::dtype_size(t.dtype));
  add_copy_counters(state, op == "argmax" ? in_bytes : 2 * in_bytes, seconds, copy_seconds);
  state.SetLabel(rope ? "[4, 32, 4096, 128] neox" : "bytes: x read once, out written once");
}

}  // namespace

void register_cuda_targets_suite() {
  const std::string& backend = env().device.info().backend;
  if (backend != "cuda" && backend != "hip") return;
  for (const TargetGemm& g : kGemms) {
    const std::string name = "cuda_targets/gemm/bf16/M=" + std::to_string(g.m) + "/N=" + std::to_string(g.n) +
                             "/K=" + std::to_string(g.k) + (g.weights_nk ? "/BT" : "");
    register_bench(name, [g](benchmark::State& st) { bench_target_gemm(st, g); });
  }
  register_bench("cuda_targets/attention/prefill/bf16/B=1/H=32/S=4096/D=128/causal", bench_target_prefill);
  register_bench("cuda_targets/attention/decode/bf16/B=16/Hq=32/Hkv=8/KV=8192/D=128", bench_target_decode);
  for (const RowsTarget& t : kRowsTargets) {
    const std::string name = std::string("cuda_targets/rows/") + t.op + "/" + dt(t.dtype) +
                             "/rows=" + std::to_string(t.rows) + "/D=" + std::to_string(t.D);
    register_bench(name, [t](benchmark::State& st) { bench_target_rows(st, t); });
  }
}

}  // namespace porta_bench
