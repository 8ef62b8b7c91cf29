// Quantized-weight GEMM suite: decode GEMVs (M = 1) and a prefill chunk (M = 512) on
// Llama-3-8B projection shapes with int4 / int8 / fp8 weights, each interleaved with porta's
// own bf16-weight GEMM (f32 activations x bf16 [N, K] weights) on the same shape, so the
// ratio is measured in one run. Decode weights rotate over copies that together pass the
// last-level cache (for both sides). Counters: bytes_per_weight (codes + scales + zeros),
// weight_GBps, pct_copy_bw (against porta::ops::copy's read+write rate, copy_GBps, timed
// right before and right after the row's loop: a rate from start-up let a load change
// between start-up and the row move the percentage by 30 points on a shared 2-core host),
// time_vs_bf16w (quantized time / bf16-weight time: < 1 is faster).
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "bench_common.h"
#include "porta/quant.h"

namespace porta_bench {
namespace {

using porta::DType;
using porta::QuantFormat;
using porta::QuantScheme;

constexpr double kRotateBytes = 256.0 * (1 << 20);

struct QuantCase {
  const char* name;
  QuantScheme scheme;
};

const QuantCase kInt4{"int4_g128", {QuantFormat::int4, 128, DType::f16}};
const QuantCase kInt4Zp{"int4zp_g128", {QuantFormat::int4_zp, 128, DType::f16}};
const QuantCase kInt8{"int8_g128", {QuantFormat::int8, 128, DType::f16}};
// Groups 32 and 64: GGUF Q4_0 / Q8_0 and porta-run's load-time quantization use 32.
const QuantCase kInt4G32{"int4_g32", {QuantFormat::int4, 32, DType::f16}};
const QuantCase kInt4G64{"int4_g64", {QuantFormat::int4, 64, DType::f16}};
const QuantCase kInt4ZpG32{"int4zp_g32", {QuantFormat::int4_zp, 32, DType::f16}};
const QuantCase kInt8G32{"int8_g32", {QuantFormat::int8, 32, DType::f16}};
const QuantCase kInt8G64{"int8_g64", {QuantFormat::int8, 64, DType::f16}};
const QuantCase kFp8{"fp8_channel", {QuantFormat::fp8_e4m3fn, QuantScheme::kPerChannel, DType::f32}};

struct Shape {
  int64_t m, n, k;
  const char* tag;
};

/// A quantized weight with random codes (xorshift) and scales near 0.01.
porta::QuantWeight random_quant(const QuantScheme& sc, int64_t n, int64_t k, uint64_t seed) {
  porta::QuantHostWeight h;
  h.scheme = sc;
  h.n = n;
  h.k = k;
  h.codes.resize(static_cast<size_t>(n * porta::quant_row_bytes(sc.format, k)));
  uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
  for (size_t i = 0; i < h.codes.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    for (size_t b = 0; b < 8 && i + b < h.codes.size(); ++b) {
      uint8_t c = static_cast<uint8_t>(x >> (8 * b));
      if (sc.format == QuantFormat::fp8_e4m3fn && (c & 0x7f) == 0x7f) c ^= 1;
      h.codes[i + b] = c;
    }
  }
  h.scales.assign(static_cast<size_t>(n * sc.groups(k)), 0.01f);
  if (sc.format == QuantFormat::int4_zp) h.zeros.assign(h.scales.size(), 8.0f);
  return porta::QuantWeight::from_host(env().stream(), h);
}

/// porta's bf16-weight GEMM on the same shape (its own rotated copies), the reference side.
class Bf16WeightGemm final : public BaselineCase {
 public:
  Bf16WeightGemm(const porta::Tensor& a, int64_t n, int64_t k, int copies) : a_(a) {
    for (int i = 0; i < copies; ++i)
      b_.push_back(random_tensor(DType::bf16, {n, k}, 50 + static_cast<uint64_t>(i)));
    c_ = porta::Tensor::empty(env().device, DType::f32, {a.dim(0), n});
    opt_.trans_b = true;
  }
  void run() override {
    porta::ops::gemm(env().stream(), a_, b_[next_], c_, opt_);
    next_ = (next_ + 1) % b_.size();
    env().stream().synchronize();
  }

 private:
  porta::Tensor a_, c_;
  std::vector<porta::Tensor> b_;
  porta::ops::GemmOptions opt_;
  size_t next_ = 0;
};

void bench_quant(benchmark::State& state, Shape shape, QuantCase qc) {
  const int64_t m = shape.m, n = shape.n, k = shape.k;
  if (!porta::supports_quant(env().device, "gemm", qc.scheme.format, DType::f32)) {
    state.SkipWithError("the device does not run this quantized format (supports_quant is false)");
    return;
  }
  porta::Tensor a, c;
  std::vector<porta::QuantWeight> ws;
  int copies = 1;
  try {
    a = random_tensor(DType::f32, {m, k}, 1);
    c = porta::Tensor::empty(env().device, DType::f32, {m, n});
    ws.push_back(random_quant(qc.scheme, n, k, 2));
    const double qbytes = static_cast<double>(ws[0].nbytes());
    const double dense_bytes = 2.0 * static_cast<double>(n * k);
    if (m <= 16) copies = static_cast<int>(std::clamp(std::ceil(kRotateBytes / qbytes), 2.0, 64.0));
    for (int i = 1; i < copies; ++i)
      ws.push_back(random_quant(qc.scheme, n, k, 2 + static_cast<uint64_t>(i)));
    const int dense_copies =
        m <= 16 ? static_cast<int>(std::clamp(std::ceil(kRotateBytes / dense_bytes), 2.0, 16.0)) : 1;
    auto* base =
        cached_baseline("bf16w:" + std::to_string(m) + ":" + std::to_string(n) + ":" + std::to_string(k),
                        [&] { return std::make_unique<Bf16WeightGemm>(a, n, k, dense_copies); });
    // Decode rows only: the copy (~10 ms for 256 MiB) would dominate an interleaved loop, and
    // prefill rows are compute-bound (they report TFLOP/s).
    BaselineCase* copy_ref = m <= 16 ? make_copy_reference(copy_reference_elements()) : nullptr;
    double copy_seconds = 0;
    if (copy_ref) copy_ref->run(), copy_seconds += copy_ref->timed_run_seconds();
    double base_seconds = 0;
    size_t next = 0;
    const double seconds = run_timed(
        state,
        [&] {
          porta::ops::gemm(env().stream(), a, ws[next], c);
          next = (next + 1) % ws.size();
        },
        base, &base_seconds);
    if (seconds <= 0) return;
    if (copy_ref) copy_seconds += copy_ref->timed_run_seconds();
    const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    set_flops_counters(state, flops, seconds, peak_tflops_for(DType::f32));
    const double gbps = qbytes * static_cast<double>(state.iterations()) / seconds / 1e9;
    state.counters["bytes_per_weight"] = qbytes / static_cast<double>(n * k);
    state.counters["weight_GBps"] = gbps;
    if (copy_seconds > 0) {
      // Two copies (before, after), each reading and writing copy_reference_elements() f32.
      const double copy_gbps =
          2 * (2.0 * 4 * static_cast<double>(copy_reference_elements())) / copy_seconds / 1e9;
      state.counters["copy_GBps"] = copy_gbps;
      state.counters["pct_copy_bw"] = 100.0 * gbps / copy_gbps;
    }
    if (base_seconds > 0) {
      state.counters["time_vs_bf16w"] = seconds / base_seconds;
      state.counters["bf16w_ms"] = 1e3 * base_seconds / static_cast<double>(state.iterations());
    }
    state.counters["w_copies"] = copies;
    state.SetLabel(std::string(shape.tag) + ", " + qc.scheme.str());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

}  // namespace

void register_gemm_quant_suite() {
  const Shape decode[] = {{1, 4096, 4096, "llama3-8b q/o proj"},
                          {1, 14336, 4096, "llama3-8b gate/up proj"},
                          {1, 4096, 14336, "llama3-8b down proj"}};
  const Shape prefill{512, 4096, 4096, "llama3-8b q/o proj"};
  std::vector<std::pair<Shape, QuantCase>> cases;
  for (const Shape& s : decode)
    for (const QuantCase& q : {kInt4, kInt8, kInt4G32, kInt8G32, kInt4G64, kInt8G64}) cases.push_back({s, q});
  cases.push_back({decode[0], kInt4Zp});
  cases.push_back({decode[0], kInt4ZpG32});
  cases.push_back({decode[0], kFp8});
  cases.push_back({prefill, kInt4});
  cases.push_back({prefill, kInt8});
  if (!env().quick) {
    for (const Shape& s :
         {Shape{16, 4096, 4096, "llama3-8b q/o proj"}, Shape{512, 14336, 4096, "llama3-8b gate/up proj"}})
      for (const QuantCase& q : {kInt4, kInt4Zp, kInt8, kFp8}) cases.push_back({s, q});
    for (const QuantCase& q : {kInt4, kInt8})
      cases.push_back({Shape{512, 4096, 14336, "llama3-8b down proj"}, q});
  }
  // Llama-3-70B's MLP (gate/up 28672 x 8192 and down 8192 x 28672), the W4A16 decode shapes
  // the CUDA target names (M = 1..16, weights rotated past L2): in the quick set on discrete
  // GPUs (scripts/gpu-check.sh runs it), in the full set everywhere.
  if (!env().quick || env().device.info().type == porta::DeviceType::discrete_gpu)
    for (const Shape& s :
         {Shape{1, 28672, 8192, "llama3-70b gate/up proj"}, Shape{16, 28672, 8192, "llama3-70b gate/up proj"},
          Shape{1, 8192, 28672, "llama3-70b down proj"}, Shape{16, 8192, 28672, "llama3-70b down proj"}})
      cases.push_back({s, kInt4});
  for (const auto& [shape, qc] : cases) {
    const std::string name = "gemm_quant/" + std::string(qc.name) + "/M=" + std::to_string(shape.m) +
                             "/N=" + std::to_string(shape.n) + "/K=" + std::to_string(shape.k);
    register_bench(name, [shape = shape, qc = qc](benchmark::State& st) { bench_quant(st, shape, qc); });
  }
}

}  // namespace porta_bench
