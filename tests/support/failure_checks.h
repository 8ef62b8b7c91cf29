// Checks shared by the backend-specific negative tests: a call fails with the right
// porta::Error, and the device still computes correctly afterwards.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "porta/porta.h"

namespace porta::test {

/// Runs `fn`, which must throw porta::Error with `code` and a message containing every
/// string of `parts`; gtest failures otherwise.
void expect_error(Errc code, const std::vector<std::string>& parts, const std::function<void()>& fn);

/// The device still runs work after a failure: fill, add and read back on a new stream.
void expect_device_usable(const Device& device);

}  // namespace porta::test
