// Honest skips for device tests. A test binary aimed at one backend (PORTA_TEST_DEVICES)
// on a host without it would otherwise run zero cases and "pass"; instead it exits with
// kSkipExitCode, which CTest reports as skipped (SKIP_RETURN_CODE, see tests/CMakeLists.txt),
// after printing why the backend is absent. A backend named in PORTA_TEST_EXPECT
// (e.g. "cpu,vulkan,opencl", set by scripts/test.sh) must be present: its absence fails.
#pragma once

#include <string>
#include <vector>

namespace porta::test {

/// Exit status meaning "skipped" to CTest (the automake convention).
constexpr int kSkipExitCode = 77;

/// Backend names of a comma-separated device list ("cpu:0,vulkan" -> cpu, vulkan).
std::vector<std::string> backends_of(const std::string& list);

/// Why `backend` has no device: its load diagnostics (driver missing, no device, module
/// failed to load and dlerror's text), or that no module of that name was found.
std::string why_absent(const std::string& backend);

/// Checks the backends of PORTA_TEST_DEVICES against the devices found. Returns -1 when
/// the tests should run, kSkipExitCode when none of the targeted backends is present and
/// none is expected, 1 when an expected one is absent. Prints the reason either way.
int check_device_presence();

}  // namespace porta::test
