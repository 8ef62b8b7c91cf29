// Vulkan-specific failure cases: a tensor larger than one storage binding can address,
// an allocation past the device's memory, and a forced cooperative-matrix path on a device
// without it. After each, the device must still run work correctly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "porta/porta.h"
#include "support/failure_checks.h"

namespace {

using namespace porta;
using porta::test::expect_error;

std::vector<Device> vulkan_devices() {
  std::vector<Device> out;
  for (const Device& d : devices())
    if (d.info().backend == "vulkan") out.push_back(d);
  return out;
}

class VulkanNegative : public ::testing::TestWithParam<Device> {
 protected:
  void expect_usable() { porta::test::expect_device_usable(GetParam()); }
};

TEST_P(VulkanNegative, TensorLargerThanOneBinding) {
  const uint64_t max = GetParam().info().max_allocation_bytes;
  ASSERT_GT(max, 0u);
  expect_error(Errc::out_of_memory, {"bytes"},
               [&] { Tensor::empty(GetParam(), DType::i8, {static_cast<int64_t>(max) + 4096}); });
  expect_usable();
}

TEST_P(VulkanNegative, PastDeviceMemoryThenUsable) {
  expect_error(Errc::out_of_memory, {"bytes"},
               [&] { Tensor::empty(GetParam(), DType::f32, {int64_t(1) << 40}); });
  expect_usable();
}

// Many tensors that each fit, until the device (or the process's budget) runs out: every
// failure is out_of_memory and, once they are released, the device works again.
TEST_P(VulkanNegative, ManyAllocationsUntilOutOfMemory) {
  const uint64_t mem = GetParam().info().memory_bytes;
  const uint64_t chunk = std::min<uint64_t>(GetParam().info().max_allocation_bytes, 64ull << 20);
  if (mem > (8ull << 30)) GTEST_SKIP() << "device memory too large to exhaust in a unit test";
  std::vector<Tensor> held =
      porta::test::allocate_until_out_of_memory(GetParam(), static_cast<int64_t>(chunk));
  held.clear();
  expect_usable();
}

// Run with PORTA_VULKAN_COOPMAT=1 (its own CTest entry): a device without cooperative
// matrices must refuse GEMM with a message naming the knob, not fall back silently.
TEST_P(VulkanNegative, ForcedCooperativeMatrixPath) {
  const char* forced = std::getenv("PORTA_VULKAN_COOPMAT");
  if (!forced || std::string(forced) != "1") GTEST_SKIP() << "needs PORTA_VULKAN_COOPMAT=1";
  if (GetParam().info().matrix_units) GTEST_SKIP() << "device has cooperative matrices";
  Stream s(GetParam());
  Tensor a = Tensor::empty(GetParam(), DType::f16, {32, 32});
  Tensor b = Tensor::empty(GetParam(), DType::f16, {32, 32});
  Tensor c = Tensor::empty(GetParam(), DType::f32, {32, 32});
  ops::fill(s, a, 1.0);
  ops::fill(s, b, 1.0);
  expect_error(Errc::unsupported, {"PORTA_VULKAN_COOPMAT"}, [&] { ops::gemm(s, a, b, c); });
  expect_usable();
}

INSTANTIATE_TEST_SUITE_P(Vulkan, VulkanNegative, ::testing::ValuesIn(vulkan_devices()),
                         [](const ::testing::TestParamInfo<Device>& i) {
                           return "vulkan_" + std::to_string(i.param.info().index);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VulkanNegative);

}  // namespace
