// Console output with progress: each result line starts with [done/total elapsed], so a
// person watching a long run (the full suite takes many minutes on a CPU or a software
// device) sees how far it is.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

namespace porta_bench {

/// Names of every benchmark registered through register_bench() (bench_common.cpp).
std::vector<std::string>& registered_names();

class ProgressReporter : public benchmark::ConsoleReporter {
 public:
  /// total: how many benchmarks the run will report (0 = unknown: only elapsed time shown).
  explicit ProgressReporter(size_t total);

 protected:
  void PrintRunData(const Run& run) override;

 private:
  size_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// How many registered benchmarks the --benchmark_filter regex selects (Google
/// Benchmark's rules: empty or "all" selects all, a leading '-' negates).
size_t count_selected(const std::vector<std::string>& names, const std::string& filter);

}  // namespace porta_bench
