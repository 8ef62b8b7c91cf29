// porta-bench: selects the device (PORTA_DEVICE), measures the peaks the
// percentages are taken against, records them as benchmark context for the
// report, then runs the suites through Google Benchmark.
//
// Extra flag (before the --benchmark_* ones): --quick runs the reduced set.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "host_peaks.h"
#include "progress_reporter.h"

namespace {

using porta_bench::env;

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Bandwidth of porta::ops::copy on a 256 MiB f32 tensor (read + write bytes; smaller where the
// device's largest allocation is): the "plain copy" reference decode attention is compared with.
double measure_porta_copy_gbps() {
  const int64_t n = porta_bench::copy_reference_elements();
  porta::Stream& s = env().stream();
  porta::Tensor src = porta::Tensor::empty(env().device, porta::DType::f32, {n});
  porta::Tensor dst = porta::Tensor::empty(env().device, porta::DType::f32, {n});
  std::vector<float> ones(static_cast<size_t>(n), 1.0f);
  src.copy_from_host(s, ones.data());
  porta::ops::copy(s, src, dst);  // warm-up, first touch
  s.synchronize();
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    porta::ops::copy(s, src, dst);
    s.synchronize();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * static_cast<double>(src.nbytes()) / dt / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  porta_bench::prepare_baseline_process(argv);
  std::vector<char*> args;
  bool min_time_given = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      env().quick = true;
    } else {
      args.push_back(argv[i]);
      if (std::strncmp(argv[i], "--benchmark_min_time", 20) == 0) min_time_given = true;
    }
  }
  // Default min time per benchmark, as a flag (not per benchmark) so names stay clean.
  static char quick_min_time[] = "--benchmark_min_time=0.2";
  static char full_min_time[] = "--benchmark_min_time=0.5";
  if (!min_time_given) args.push_back(env().quick ? quick_min_time : full_min_time);
  int nargs = static_cast<int>(args.size());
  benchmark::Initialize(&nargs, args.data());
  if (benchmark::ReportUnrecognizedArguments(nargs, args.data())) return 1;

  porta_bench::BenchEnv& e = env();
  try {
    e.device = porta::Device::select();
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "porta-bench: no device: %s\n", ex.what());
    return 1;
  }
  const porta::DeviceInfo& info = e.device.info();
  std::printf("porta-bench %s on %s [%s]%s\n", porta::version(), e.device.description().c_str(),
              porta::device_type_name(info.type), e.quick ? " (quick set)" : "");

  // Peaks: a device that runs on the host CPU (the cpu backend, or a software
  // driver) gets the host's measured peaks; others report theirs in info().
  const bool on_host = info.type == porta::DeviceType::cpu || info.software;
  e.on_host = on_host;
  const int threads =
      info.compute_units > 0 ? info.compute_units : static_cast<int>(std::thread::hardware_concurrency());
  e.peak_tflops_f32 = info.peak_tflops_f32;
  e.peak_tflops_f16 = info.peak_tflops_f16;
  e.peak_gbps = info.peak_gbps;
  std::string peak_source = info.peak_source.empty() ? "device info" : info.peak_source;
  if (on_host) {
    const double fma = porta_bench::measure_host_fma_gflops(threads);
    const double mem = porta_bench::measure_host_copy_gbps(threads);
    benchmark::AddCustomContext("host_fma_gflops", fmt(fma));
    benchmark::AddCustomContext("host_memcpy_gbps", fmt(mem));
    std::printf("host peaks (%d threads): FMA %.1f GFLOP/s f32, memcpy %.1f GB/s (read+write)\n", threads,
                fma, mem);
    if (fma > 0) {
      e.peak_tflops_f32 = fma / 1e3;
      e.peak_tflops_f16 = fma / 1e3;  // the host computes f16/bf16 in f32
    }
    if (mem > 0) e.peak_gbps = mem;
    peak_source = "measured on the host (FMA loop, memcpy)";
  }

  double copy_gbps = 0;
  try {
    copy_gbps = measure_porta_copy_gbps();
    e.copy_gbps = copy_gbps;
    benchmark::AddCustomContext("porta_copy_gbps", fmt(copy_gbps));
    std::printf("porta::ops::copy bandwidth: %.1f GB/s (read+write, %lld MiB f32)\n", copy_gbps,
                static_cast<long long>(porta_bench::copy_reference_elements() >> 18));
  } catch (const std::exception& ex) {
    std::printf("porta::ops::copy bandwidth: not measured (%s)\n", ex.what());
  }
  if (e.peak_gbps <= 0) e.peak_gbps = copy_gbps;  // no better reference known

  e.baseline = porta_bench::make_baseline(e.device, threads);
  if (e.baseline) std::printf("baseline: %s\n", e.baseline->description().c_str());

  benchmark::AddCustomContext("porta_version", porta::version());
  benchmark::AddCustomContext("porta_device", e.device.description());
  benchmark::AddCustomContext("porta_backend", info.backend);
  benchmark::AddCustomContext("porta_device_type", porta::device_type_name(info.type));
  benchmark::AddCustomContext("porta_threads", std::to_string(threads));
  benchmark::AddCustomContext("peak_tflops_f32", fmt(e.peak_tflops_f32));
  benchmark::AddCustomContext("peak_tflops_f16", fmt(e.peak_tflops_f16));
  benchmark::AddCustomContext("peak_gbps", fmt(e.peak_gbps));
  benchmark::AddCustomContext("peak_source", peak_source);
  benchmark::AddCustomContext("nominal_peak_tflops_f32", fmt(info.peak_tflops_f32));
  benchmark::AddCustomContext("nominal_peak_gbps", fmt(info.peak_gbps));
  benchmark::AddCustomContext("baseline", e.baseline ? e.baseline->description() : "none");
  benchmark::AddCustomContext("bench_set", e.quick ? "quick" : "full");
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  benchmark::AddCustomContext("command", cmd);

  porta_bench::register_gemm_suite();
  porta_bench::register_gemm_quant_suite();
  porta_bench::register_attention_suite();
  porta_bench::register_paged_suite();
  porta_bench::register_elementwise_suite();
  porta_bench::register_cuda_targets_suite();
  // Progress prefixes on the console table; another --benchmark_format keeps its reporter.
  bool console = true;
  for (int i = 0; i < nargs; ++i)
    if (std::strncmp(args[static_cast<size_t>(i)], "--benchmark_format=", 19) == 0)
      console = std::strcmp(args[static_cast<size_t>(i)] + 19, "console") == 0;
  porta_bench::ProgressReporter progress(
      porta_bench::count_selected(porta_bench::registered_names(), benchmark::GetBenchmarkFilter()));
  if (console)
    benchmark::RunSpecifiedBenchmarks(&progress);
  else
    benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
