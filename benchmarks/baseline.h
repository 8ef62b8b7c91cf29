// The vendor-baseline hook: a small interface that each baseline library
// (OpenBLAS on the CPU now; cuBLAS, CLBlast later) implements, so the suites
// compare against whatever the selected device has without knowing which.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "porta/device.h"
#include "porta/dtype.h"

namespace porta_bench {

/// One GEMM problem as the suites describe it (row-major, C[M,N] = op(A)·op(B)).
struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  porta::DType a = porta::DType::f32, b = porta::DType::f32, c = porta::DType::f32;
  /// Distinct B operands to rotate through, one per run: decode-sized GEMMs stream
  /// their weights, so the suite keeps them from sitting in the last-level cache.
  int b_copies = 1;
};

/// A prepared baseline run: owns its operands (filled with random data) so it
/// needs nothing from porta. run() executes once and returns when done.
class BaselineCase {
 public:
  virtual ~BaselineCase() = default;
  virtual void run() = 0;
  /// Seconds of one run(). The default times run() with the host clock; GPU baselines
  /// override it with device events so launch and synchronisation latency (tens of
  /// microseconds, as much as a decode-sized kernel) count for neither side.
  virtual double timed_run_seconds();
  /// Whether timed_run_seconds() measures device time: porta's side is then timed with
  /// porta::Event pairs too (on devices that are not the host), so both sides count alike.
  virtual bool device_timed() const { return false; }
};

class Baseline {
 public:
  virtual ~Baseline() = default;
  /// Short name used in counters and the report, e.g. "openblas".
  virtual std::string name() const = 0;
  /// Version and configuration, e.g. "OpenBLAS 0.3.21 ... (2 threads)".
  virtual std::string description() const = 0;
  /// nullptr when the baseline has no kernel for this problem (e.g. a dtype it lacks).
  virtual std::unique_ptr<BaselineCase> prepare_gemm(const GemmProblem& p) = 0;
};

/// Called first in main(): process-level settings a baseline library reads when it
/// loads (so before main) are put in place here, re-executing the program if needed.
/// Returns only when the process is ready; never when it re-executed itself.
void prepare_baseline_process(char** argv);

/// The baseline for `device`, or nullptr when none was built for its backend.
/// `threads`: host threads the baseline may use (the cpu device's pool size).
std::unique_ptr<Baseline> make_baseline(const porta::Device& device, int threads);

#if defined(PORTA_BENCH_HAVE_VULKAN_NAIVE)
std::unique_ptr<Baseline> make_vulkan_naive_baseline(const porta::Device& device);
#endif
#if defined(PORTA_BENCH_HAVE_OPENBLAS)
std::unique_ptr<Baseline> make_openblas_baseline(int threads);
void prepare_openblas_process(char** argv);
#endif
#if defined(PORTA_BENCH_HAVE_CUBLAS)
std::unique_ptr<Baseline> make_cublas_baseline(const porta::Device& device);  // baseline_cublas.cpp
#endif

#if defined(PORTA_BENCH_HAVE_CLBLAST)
std::unique_ptr<Baseline> make_clblast_baseline(const porta::Device& device);
#endif

}  // namespace porta_bench
