#include "bench_common.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "progress_reporter.h"

namespace porta_bench {

BenchEnv& env() {
  static BenchEnv e;
  return e;
}

namespace {

// Google Benchmark calls a benchmark function once per trial iteration count (often
// three or four times); random inputs of the running benchmark are kept between those
// calls and dropped when the next benchmark starts, so setup is paid once.
struct InputCache {
  std::string benchmark;
  std::map<std::string, porta::Tensor> tensors;
  std::map<std::string, std::unique_ptr<BaselineCase>> baselines;
};
InputCache& input_cache() {
  static InputCache c;
  return c;
}

porta::Tensor make_random_tensor(porta::DType dtype, const porta::Shape& shape, uint64_t seed, float lo,
                                 float hi) {
  const auto n = static_cast<size_t>(shape.numel());
  std::vector<float> host(n);
  // xorshift64*: fast enough for hundreds of millions of elements, fixed seed per tensor.
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  const float span = hi - lo;
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const uint64_t r = x * 0x2545F4914F6CDD1Dull;
    host[i] = lo + span * static_cast<float>(r >> 40) * (1.0f / 16777216.0f);
  }
  porta::Stream& s = env().stream();
  porta::Tensor t = porta::Tensor::empty(env().device, dtype, shape);
  if (dtype == porta::DType::f32) {
    t.copy_from_host(s, host.data());
  } else {
    std::vector<unsigned char> conv(n * porta::dtype_size(dtype));
    porta::convert_host(porta::DType::f32, host.data(), dtype, conv.data(), n);
    t.copy_from_host(s, conv.data());
  }
  s.synchronize();
  return t;
}

}  // namespace

porta::Tensor random_tensor(porta::DType dtype, const porta::Shape& shape, uint64_t seed, float lo,
                            float hi) {
  std::string key = std::string(porta::dtype_name(dtype)) + ":" + std::to_string(seed) + ":" +
                    std::to_string(lo) + ":" + std::to_string(hi);
  for (int i = 0; i < shape.rank; ++i) key += ":" + std::to_string(shape[i]);
  auto& cache = input_cache().tensors;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make_random_tensor(dtype, shape, seed, lo, hi)).first;
  return it->second;
}

double run_timed(benchmark::State& state, const std::function<void()>& op, BaselineCase* baseline,
                 double* baseline_seconds) {
  using Clock = std::chrono::steady_clock;
  porta::Stream& s = env().stream();
  const bool device_clock = !env().on_host && (!baseline || baseline->device_timed());
  try {
    op();  // warm-up: lazy kernel compilation, packing buffers, page faults
    s.synchronize();
    if (baseline) baseline->run();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return -1;
  }
  porta::Event start(env().device), end(env().device);
  double total = 0, base_total = 0;
  for (auto _ : state) {
    try {
      double dt = 0;
      if (device_clock) {
        s.record(start);
        op();
        s.record(end);
        end.synchronize();
        dt = porta::Event::elapsed_ms(start, end) / 1e3;
      } else {
        const auto t0 = Clock::now();
        op();
        s.synchronize();
        dt = std::chrono::duration<double>(Clock::now() - t0).count();
      }
      state.SetIterationTime(dt);
      total += dt;
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return -1;
    }
    if (baseline) base_total += baseline->timed_run_seconds();
  }
  state.counters["device_clock"] = device_clock ? 1 : 0;
  if (baseline_seconds) *baseline_seconds = base_total;
  return total;
}

namespace {
class CopyReference final : public BaselineCase {
 public:
  explicit CopyReference(int64_t elements)
      : src_(random_tensor(porta::DType::f32, {elements}, 99)),
        dst_(porta::Tensor::empty(env().device, porta::DType::f32, {elements})) {}
  void run() override {
    porta::ops::copy(env().stream(), src_, dst_);
    env().stream().synchronize();
  }
  double timed_run_seconds() override {
    if (!device_timed()) return BaselineCase::timed_run_seconds();
    env().stream().record(start_);
    porta::ops::copy(env().stream(), src_, dst_);
    env().stream().record(end_);
    end_.synchronize();
    return porta::Event::elapsed_ms(start_, end_) / 1e3;
  }
  bool device_timed() const override { return !env().on_host; }

 private:
  porta::Tensor src_, dst_;
  porta::Event start_{env().device}, end_{env().device};
};
}  // namespace

BaselineCase* cached_baseline(const std::string& key,
                              const std::function<std::unique_ptr<BaselineCase>()>& make) {
  auto& cache = input_cache().baselines;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make()).first;
  return it->second.get();
}

int64_t copy_reference_elements() {
  const uint64_t cap = env().device.info().max_allocation_bytes;
  int64_t n = int64_t{64} << 20;
  if (cap != 0) n = std::min<int64_t>(n, static_cast<int64_t>(cap / 4));
  return n;
}

BaselineCase* make_copy_reference(int64_t elements) {
  return cached_baseline("copy:" + std::to_string(elements),
                         [elements] { return std::make_unique<CopyReference>(elements); });
}

double peak_tflops_for(porta::DType dtype) {
  return dtype == porta::DType::f32 ? env().peak_tflops_f32 : env().peak_tflops_f16;
}

void set_flops_counters(benchmark::State& state, double flops_per_iter, double seconds, double peak_tflops) {
  if (seconds <= 0) return;
  const double tflops = flops_per_iter * static_cast<double>(state.iterations()) / seconds / 1e12;
  state.counters["TFLOPS"] = tflops;
  state.counters["flop"] = flops_per_iter;
  if (peak_tflops > 0) state.counters["pct_peak"] = 100.0 * tflops / peak_tflops;
}

void set_bytes_counters(benchmark::State& state, double bytes_per_iter, double seconds) {
  if (seconds <= 0) return;
  const double gbps = bytes_per_iter * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GBps"] = gbps;
  state.counters["bytes"] = bytes_per_iter;
  if (env().peak_gbps > 0) state.counters["pct_peak"] = 100.0 * gbps / env().peak_gbps;
}

void set_baseline_counters(benchmark::State& state, double porta_seconds, double baseline_seconds) {
  if (porta_seconds <= 0 || baseline_seconds <= 0) return;
  state.counters["vs_baseline"] = baseline_seconds / porta_seconds;
  state.counters["baseline_ms"] = 1e3 * baseline_seconds / static_cast<double>(state.iterations());
}

benchmark::internal::Benchmark* register_bench(const std::string& name,
                                               std::function<void(benchmark::State&)> fn) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [fn, name](benchmark::State& st) {
    InputCache& cache = input_cache();
    if (cache.benchmark != name) {
      cache.baselines.clear();  // the previous benchmark's inputs: free before allocating new ones
      cache.tensors.clear();
      cache.benchmark = name;
    }
    fn(st);
  });
  registered_names().push_back(name);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
  return b;
}

}  // namespace porta_bench
