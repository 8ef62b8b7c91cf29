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

/// Allocates i8 tensors of `chunk` bytes on `device` until one fails, which must be
/// Errc::out_of_memory, or until more than its memory plus one chunk is held (a gtest
/// failure: the device never ran out). Returns the tensors held, to release when done.
std::vector<Tensor> allocate_until_out_of_memory(const Device& device, int64_t chunk);

}  // namespace porta::test
