#include "progress_reporter.h"

#include <cstdio>
#include <regex>

namespace porta_bench {

std::vector<std::string>& registered_names() {
  static std::vector<std::string> names;
  return names;
}

ProgressReporter::ProgressReporter(size_t total) : total_(total) {}

void ProgressReporter::PrintRunData(const Run& run) {
  if (run.run_type == Run::RT_Iteration) ++done_;
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_);
  char prefix[64];
  if (total_ > 0)
    std::snprintf(prefix, sizeof prefix, "[%zu/%zu %lldm%02llds] ", done_, total_,
                  static_cast<long long>(secs.count() / 60), static_cast<long long>(secs.count() % 60));
  else
    std::snprintf(prefix, sizeof prefix, "[%zu %lldm%02llds] ", done_,
                  static_cast<long long>(secs.count() / 60), static_cast<long long>(secs.count() % 60));
  GetOutputStream() << prefix;
  benchmark::ConsoleReporter::PrintRunData(run);
}

size_t count_selected(const std::vector<std::string>& names, const std::string& filter) {
  std::string spec = filter.empty() || filter == "all" ? "." : filter;
  bool negate = false;
  if (!spec.empty() && spec[0] == '-') {
    negate = true;
    spec.erase(0, 1);
  }
  try {
    const std::regex re(spec);
    size_t n = 0;
    // Benchmarks with manual timing are reported (and matched) with this suffix.
    for (const std::string& name : names)
      if (std::regex_search(name + "/manual_time", re) != negate) ++n;
    return n;
  } catch (const std::regex_error&) {
    return 0;  // Google Benchmark reports the bad filter itself
  }
}

}  // namespace porta_bench
