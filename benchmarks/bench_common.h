// State shared by the porta-bench suites: the selected device and stream, the
// peaks used for "% of peak", the baseline, and helpers to fill tensors, time
// ops and set the counters the report reads.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "baseline.h"
#include "porta/porta.h"

namespace porta_bench {

struct BenchEnv {
  porta::Device device;
  bool quick = false;
  bool on_host = false;        // the device computes on the host CPU (cpu backend, lavapipe, PoCL)
  double peak_tflops_f32 = 0;  // used for pct_peak of f32 work (measured on the CPU)
  double peak_tflops_f16 = 0;  // used for f16/bf16 work
  double peak_gbps = 0;        // used for pct_peak of bandwidth-bound work
  double copy_gbps = 0;        // porta::ops::copy read+write rate measured at start-up (0: not measured)
  std::unique_ptr<Baseline> baseline;

  porta::Stream& stream() const { return device.default_stream(); }
};

/// The process-wide environment, set up by main() before the suites register.
BenchEnv& env();

/// Suites: each registers its benchmarks from its shape tables (quick or full).
void register_gemm_suite();
void register_gemm_quant_suite();  // suite_gemm_quant.cpp: quantized weights vs porta's bf16 weights
void register_attention_suite();
void register_paged_suite();        // suite_paged.cpp: serving attention (paged KV cache)
void register_elementwise_suite();
void register_cuda_targets_suite();  // suite_cuda_targets.cpp: cuda/hip devices only

/// A contiguous tensor of `dtype` filled with uniform random values in [lo, hi)
/// (rounded to dtype), uploaded with copy_from_host. Waits for the upload.
porta::Tensor random_tensor(porta::DType dtype, const porta::Shape& shape, uint64_t seed, float lo = -1.0f,
                            float hi = 1.0f);

/// Runs the benchmark loop: each iteration enqueues `op`, synchronizes the stream
/// and reports its time as manual time. One untimed warm-up run first.
/// When `baseline` is given it runs right after each porta run (interleaved, so
/// both see the same machine state) and its total time goes to *baseline_seconds.
/// Time is the host clock around op + synchronize, except on a device that is not the
/// host when the baseline is device-timed too (or there is none): then porta::Event
/// pairs around op, so host launch/synchronisation latency counts for neither side
/// (counter device_clock = 1).
/// Returns the total porta seconds, or a negative value after SkipWithError.
double run_timed(benchmark::State& state, const std::function<void()>& op, BaselineCase* baseline = nullptr,
                 double* baseline_seconds = nullptr);

/// The baseline case `make` builds, made once per running benchmark under `key` and kept
/// until the next benchmark starts: Google Benchmark calls a benchmark function several
/// times, and a baseline's own operands (hundreds of MB for cuBLAS) take seconds to fill.
/// nullptr when `make` returns none.
BaselineCase* cached_baseline(const std::string& key,
                              const std::function<std::unique_ptr<BaselineCase>()>& make);

/// A BaselineCase that runs porta::ops::copy of `elements` f32 (read + write) on
/// the selected device and waits: the plain-copy bandwidth reference (cached as above).
BaselineCase* make_copy_reference(int64_t elements);
/// f32 elements of the plain-copy reference: 256 MiB, or the device's largest allocation when
/// smaller (lavapipe: 128 MiB), so every device has a copy bandwidth to compare decode with.
int64_t copy_reference_elements();

/// Sets TFLOPS (and GFLOPS), pct_peak against `peak_tflops` (omitted when 0).
void set_flops_counters(benchmark::State& state, double flops_per_iter, double seconds, double peak_tflops);
/// Sets GBps and pct_peak against env().peak_gbps (omitted when 0).
void set_bytes_counters(benchmark::State& state, double bytes_per_iter, double seconds);
/// Sets vs_baseline = baseline time / porta time (> 1: porta faster).
void set_baseline_counters(benchmark::State& state, double porta_seconds, double baseline_seconds);

/// Peak TFLOP/s for work whose inputs are `dtype` (f32 peak for f32, else the f16 peak).
double peak_tflops_for(porta::DType dtype);

/// Registers one benchmark with the settings every porta-bench benchmark shares
/// (manual time, milliseconds; main() sets the min time per the quick/full mode).
benchmark::internal::Benchmark* register_bench(const std::string& name,
                                               std::function<void(benchmark::State&)> fn);

/// "f32", "f16", ...
inline std::string dt(porta::DType t) { return porta::dtype_name(t); }

}  // namespace porta_bench
