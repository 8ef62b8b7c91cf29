// Backend modules loaded at run time from PORTA_PLUGIN_PATH: a working fake GPU
// module, one built for another interface version, and one without an entry point.
// main() points PORTA_PLUGIN_PATH at the test modules before porta starts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "porta/porta.h"

namespace {

bool contains(const std::vector<std::string>& lines, const std::string& a, const std::string& b) {
  for (const auto& l : lines)
    if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
  return false;
}

std::string all(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

bool losing() {
  const char* v = getenv("PORTA_FAKEGPU_LOSE");
  return v && std::string(v) == "1";
}

porta::Errc error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const porta::Error& e) {
    return e.code();
  }
  return porta::Errc::internal;
}

TEST(PluginLoading, ModuleDeviceIsListedBeforeCpu) {
  // Other real modules (vulkan, opencl) may be listed too; the fake GPU comes before the cpu.
  const auto& devs = porta::devices();
  ASSERT_GE(devs.size(), 2u);
  size_t fake = devs.size(), cpu = devs.size();
  for (size_t i = 0; i < devs.size(); ++i) {
    if (devs[i].info().backend == "fakegpu" && fake == devs.size()) fake = i;
    if (devs[i].info().backend == "cpu" && cpu == devs.size()) cpu = i;
  }
  ASSERT_LT(fake, devs.size()) << "the fakegpu module's device is missing";
  EXPECT_EQ(devs[fake].info().name, "Fake Discrete GPU");
  EXPECT_LT(fake, cpu);
}

TEST(PluginLoading, AutoPicksTheDiscreteGpuAndNamedSpecsWork) {
  EXPECT_EQ(porta::Device::select("auto").info().backend, "fakegpu");
  EXPECT_EQ(porta::Device::select("fakegpu:uuid=feed").info().backend, "fakegpu");
  EXPECT_EQ(porta::Device::select("cpu").info().backend, "cpu");
}

TEST(PluginLoading, WrongInterfaceVersionIsSkippedWithAReason) {
  const auto d = porta::backend_diagnostics();
  EXPECT_TRUE(contains(d, "oldabi", "rebuild")) << all(d);
  try {
    porta::Device::select("oldabi");
    FAIL() << "selected a module built for another interface";
  } catch (const porta::Error& e) {
    EXPECT_EQ(e.code(), porta::Errc::backend_unavailable);
    EXPECT_NE(std::string(e.what()).find("interface"), std::string::npos) << e.what();
  }
}

TEST(PluginLoading, LibraryWithoutEntryPointIsSkippedWithAReason) {
  const auto d = porta::backend_diagnostics();
  EXPECT_TRUE(contains(d, "noentry", "porta_backend_entry")) << all(d);
  EXPECT_EQ(error_of([] { porta::Device::select("noentry"); }), porta::Errc::backend_unavailable);
}

TEST(PluginLoading, UnimplementedOpIsUnsupportedAndDeviceStaysUsable) {
  if (losing()) GTEST_SKIP() << "this run simulates a lost device";
  auto dev = porta::Device::select("fakegpu");
  porta::Stream s(dev);
  std::vector<float> host = {1, 2, 3, 4}, back(4);
  auto t = porta::Tensor::from_host(s, porta::DType::f32, {4}, host.data());
  EXPECT_EQ(error_of([&] { porta::ops::fill(s, t, 0.0); }), porta::Errc::unsupported);
  t.copy_to_host(s, back.data());
  EXPECT_EQ(back, host);
  // dtype capability from DeviceInfo: f16 is not supported by the fake device.
  auto h = porta::Tensor::empty(dev, porta::DType::f16, {4});
  EXPECT_EQ(error_of([&] { porta::ops::fill(s, h, 0.0); }), porta::Errc::unsupported);
}

TEST(PluginLoading, DeviceLostIsSticky) {
  if (!losing()) GTEST_SKIP() << "set PORTA_FAKEGPU_LOSE=1 to simulate a lost device";
  auto dev = porta::Device::select("fakegpu");
  porta::Stream s(dev);
  auto t = porta::Tensor::empty(dev, porta::DType::f32, {4});
  EXPECT_EQ(error_of([&] { porta::ops::fill(s, t, 0.0); }), porta::Errc::device_lost);
  // Everything after that refuses, including work that never touched the kernel.
  std::vector<float> host(4);
  EXPECT_EQ(error_of([&] { t.copy_to_host(s, host.data()); }), porta::Errc::device_lost);
  EXPECT_EQ(error_of([&] { porta::Tensor::empty(dev, porta::DType::f32, {4}); }), porta::Errc::device_lost);
  EXPECT_EQ(error_of([&] { porta::Stream again(dev); }), porta::Errc::device_lost);
  // Other devices are unaffected.
  auto cpu = porta::Device::select("cpu");
  porta::Stream cs(cpu);
  auto c = porta::Tensor::from_host(cs, porta::DType::f32, {4}, host.data());
  c.copy_to_host(cs, host.data());
}

}  // namespace

int main(int argc, char** argv) {
  setenv("PORTA_PLUGIN_PATH", PORTA_TEST_MODULE_DIR, 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
