// The expected_backends test: every backend PORTA_TEST_EXPECT names must have a device
// here (a backend the host should have but that failed to build or load is a failure, not
// a skip). Exits 77 (skipped) when PORTA_TEST_EXPECT is unset.
#include <cstdio>
#include <cstdlib>

#include "porta/porta.h"
#include "support/device_presence.h"

int main() {
  const char* expect = std::getenv("PORTA_TEST_EXPECT");
  if (!expect || !*expect) {
    std::printf(
        "SKIPPED: PORTA_TEST_EXPECT is unset, so no backend is declared present "
        "(scripts/test.sh sets it from what it installed)\n");
    return porta::test::kSkipExitCode;
  }
  int missing = 0;
  for (const auto& b : porta::test::backends_of(expect)) {
    int n = 0;
    for (const auto& d : porta::devices())
      if (d.info().backend == b) ++n;
    if (n > 0) {
      std::printf("ok      %s: %d device(s)\n", b.c_str(), n);
    } else {
      std::printf("MISSING %s: %s\n", b.c_str(), porta::test::why_absent(b).c_str());
      ++missing;
    }
  }
  if (missing) std::printf("%d backend(s) of PORTA_TEST_EXPECT='%s' are absent\n", missing, expect);
  return missing ? 1 : 0;
}
