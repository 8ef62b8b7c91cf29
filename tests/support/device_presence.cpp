#include "support/device_presence.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "porta/porta.h"

namespace porta::test {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool has_device(const std::string& backend) {
  const auto& all = devices();
  return std::any_of(all.begin(), all.end(), [&](const Device& d) { return d.info().backend == backend; });
}

}  // namespace

std::vector<std::string> backends_of(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string term = list.substr(start, end - start);
    const std::string name = term.substr(0, term.find(':'));
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    start = end + 1;
  }
  return out;
}

std::string why_absent(const std::string& backend) {
  std::string why;
  const std::string prefix = backend + ": ";
  for (const auto& line : backend_diagnostics())
    if (line.rfind(prefix, 0) == 0) why += (why.empty() ? "" : "; ") + line.substr(prefix.size());
  if (why.empty())
    why = "no module libporta_backend_" + backend +
          ".so was found (PORTA_PLUGIN_PATH, beside libporta, its porta/ directory) and none is linked "
          "in: the backend was not built";
  return why;
}

int check_device_presence() {
  const std::string targets = env("PORTA_TEST_DEVICES");
  if (targets.empty()) return -1;  // every device, and the cpu backend is always there
  const std::vector<std::string> expected = backends_of(env("PORTA_TEST_EXPECT"));
  bool any_present = false, expected_missing = false;
  for (const auto& b : backends_of(targets)) {
    if (has_device(b)) {
      any_present = true;
      continue;
    }
    const bool is_expected = std::find(expected.begin(), expected.end(), b) != expected.end();
    expected_missing = expected_missing || is_expected;
    std::printf("%s backend '%s' has no device: %s\n", is_expected ? "FAILED:" : "SKIPPED:", b.c_str(),
                why_absent(b).c_str());
    if (is_expected)
      std::printf("  PORTA_TEST_EXPECT='%s' declares it present on this host\n",
                  env("PORTA_TEST_EXPECT").c_str());
  }
  std::fflush(stdout);
  if (expected_missing) return 1;
  return any_present ? -1 : kSkipExitCode;
}

}  // namespace porta::test
