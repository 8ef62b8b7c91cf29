#include "support/failure_checks.h"

#include <gtest/gtest.h>

namespace porta::test {

void expect_error(Errc code, const std::vector<std::string>& parts, const std::function<void()>& fn) {
  try {
    fn();
    ADD_FAILURE() << "no porta::Error thrown; expected code " << static_cast<int>(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

void expect_device_usable(const Device& device) {
  Stream s(device);
  Tensor a = Tensor::empty(device, DType::f32, {1000});
  Tensor b = Tensor::empty(device, DType::f32, {1000});
  ops::fill(s, a, 1.5);
  ops::fill(s, b, 2.0);
  ops::add(s, a, b, a);
  std::vector<float> back(1000);
  a.copy_to_host(s, back.data());
  s.synchronize();
  for (float v : back) ASSERT_EQ(v, 3.5f);
}

std::vector<Tensor> allocate_until_out_of_memory(const Device& device, int64_t chunk) {
  const uint64_t mem = device.info().memory_bytes;
  std::vector<Tensor> held;
  for (uint64_t total = 0; total <= mem + static_cast<uint64_t>(chunk);
       total += static_cast<uint64_t>(chunk)) {
    try {
      held.push_back(Tensor::empty(device, DType::i8, {chunk}));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::out_of_memory) << e.what();
      return held;
    }
  }
  ADD_FAILURE() << "allocating past the device's memory did not fail";
  return held;
}

}  // namespace porta::test
