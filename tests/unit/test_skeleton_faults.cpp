// Faults driven through the skeleton backend (src/backends/skeleton): a kernel launch that
// fails, an allocation that fails in the middle of an op (core's staging copy), and a device
// lost in the middle of a stream. Errors are named, launch and allocation failures leave the
// device usable, device_lost is sticky for that device only, and other devices' tensors keep
// their values. Run with PORTA_PLUGIN_PATH at the skeleton module and three skeleton devices;
// the asan build checks that nothing leaks.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "porta/porta.h"

namespace {

using porta::Device;
using porta::DType;
using porta::Errc;
using porta::Stream;
using porta::Tensor;

using InjectFn = int (*)(int, const char*, int);

InjectFn inject() {
  (void)porta::devices();  // loads the module
  void* h = dlopen(PORTA_SKELETON_MODULE, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return nullptr;
  auto fn = reinterpret_cast<InjectFn>(dlsym(h, "porta_skeleton_inject_fault"));
  dlclose(h);  // the registry keeps its own reference
  return fn;
}

Device skeleton(int i) { return Device::select("skeleton:" + std::to_string(i)); }

// The error an operation raises (fails the test when it raises none).
porta::Error error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const porta::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error was raised";
  return porta::Error(Errc::internal, "none");
}

std::vector<float> iota(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

std::vector<float> read(Stream& s, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  t.copy_to_host(s, v.data());
  return v;
}

// a + b on `dev`, checked.
void add_works(const Device& dev) {
  Stream s(dev);
  const auto a = iota(16, 1), b = iota(16, 100);
  Tensor A = Tensor::from_host(s, DType::f32, {16}, a.data()),
         B = Tensor::from_host(s, DType::f32, {16}, b.data());
  Tensor C = Tensor::empty(dev, DType::f32, {16});
  porta::ops::add(s, A, B, C);
  const auto c = read(s, C);
  for (size_t i = 0; i < 16; ++i) ASSERT_EQ(c[i], a[i] + b[i]) << dev.description() << " element " << i;
}

TEST(SkeletonFaults, HookIsThere) {
  ASSERT_NE(inject(), nullptr) << "porta_skeleton_inject_fault not found in " << PORTA_SKELETON_MODULE;
  EXPECT_EQ(inject()(7, "lose", 1), -1);
  EXPECT_EQ(inject()(0, "bogus", 1), -1);
}

TEST(SkeletonFaults, FailedLaunchIsNamedAndNotSticky) {
  Device dev = skeleton(0);
  Stream s(dev);
  Tensor A = Tensor::empty(dev, DType::f32, {16}), C = Tensor::empty(dev, DType::f32, {16});
  porta::ops::fill(s, A, 1.0);
  ASSERT_EQ(inject()(0, "launch", 1), 0);
  const auto e = error_of([&] { porta::ops::add(s, A, A, C); });
  EXPECT_EQ(e.code(), Errc::internal);
  EXPECT_NE(std::string(e.what()).find("add"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("launch failed"), std::string::npos) << e.what();
  s.synchronize();
  add_works(dev);
}

TEST(SkeletonFaults, AllocationFailingInsideAnOpLeavesNothingBehind) {
  Device dev = skeleton(0);
  Stream s(dev);
  // A transposed input: the skeleton reads only contiguous data, so core allocates a staging
  // copy inside ops::add; that allocation (input) or the next (output) fails.
  const auto x = iota(6 * 5, 0);
  Tensor X = Tensor::from_host(s, DType::f32, {6, 5}, x.data());
  Tensor XT = X.transpose(0, 1);
  Tensor Out = Tensor::empty(dev, DType::f32, {5, 6});
  Tensor Strided = Tensor::empty(dev, DType::f32, {6, 5}).transpose(0, 1);
  const uint64_t before = dev.allocated_bytes();
  for (int n : {1, 2}) {
    ASSERT_EQ(inject()(0, "alloc", n), 0);
    const auto e = error_of([&] { porta::ops::add(s, XT, XT, n == 1 ? Out : Strided); });
    EXPECT_EQ(e.code(), Errc::out_of_memory) << e.what();
    EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
    ASSERT_EQ(inject()(0, "alloc", 0), 0);
    s.synchronize();
    EXPECT_EQ(dev.allocated_bytes(), before) << "staging memory leaked after a failed allocation " << n;
  }
  porta::ops::add(s, XT, XT, Out);  // the same op now works
  const auto o = read(s, Out);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 6; ++c)
      ASSERT_EQ(o[static_cast<size_t>(r * 6 + c)], 2 * x[static_cast<size_t>(c * 5 + r)]);
}

TEST(SkeletonFaults, EventsFromTwoThreads) {
  Device dev = skeleton(1);
  Stream producer(dev), consumer(dev);
  Tensor T = Tensor::empty(dev, DType::f32, {1024}), U = Tensor::empty(dev, DType::f32, {1024});
  porta::Event ev(dev);
  std::thread t([&] {
    porta::ops::fill(producer, T, 3.0);
    producer.record(ev);
  });
  t.join();
  std::thread u([&] {
    consumer.wait(ev);
    porta::ops::scale(consumer, T, 2.0f, U);
  });
  u.join();
  for (float v : read(consumer, U)) ASSERT_EQ(v, 6.0f);
}

// Last: skeleton:2 stays lost for the rest of the process.
TEST(SkeletonFaults, DeviceLostMidStreamIsStickyAndContained) {
  Device lost = skeleton(2), other = skeleton(1), cpu = Device::select("cpu");
  Stream so(other), sc(cpu);
  const auto ref = iota(64, 5);
  Tensor keep_other = Tensor::from_host(so, DType::f32, {64}, ref.data());
  Tensor keep_cpu = Tensor::from_host(sc, DType::f32, {64}, ref.data());
  {
    Stream s(lost);
    Tensor A = Tensor::empty(lost, DType::f32, {4096}), B = Tensor::empty(lost, DType::f32, {4096});
    ASSERT_EQ(inject()(2, "lose", 3), 0);
    // Queued work; the device is lost while running the third task, which the next enqueue or
    // the synchronize reports (whichever comes first: the device runs concurrently).
    const auto e = error_of([&] {
      porta::ops::fill(s, A, 1.0);
      for (int i = 0; i < 50; ++i) porta::ops::scale(s, A, 2.0f, B);
      s.synchronize();
    });
    EXPECT_EQ(e.code(), Errc::device_lost);
    EXPECT_NE(std::string(e.what()).find("skeleton:2"), std::string::npos) << e.what();
    // Sticky: every later call on that device says so, naming it.
    for (const auto& fn : std::vector<std::function<void()>>{
             [&] { porta::ops::scale(s, A, 2.0f, B); }, [&] { (void)Tensor::empty(lost, DType::f32, {4}); },
             [&] { Stream again(lost); }, [&] { s.synchronize(); }}) {
      const auto again = error_of(fn);
      EXPECT_EQ(again.code(), Errc::device_lost);
      EXPECT_NE(std::string(again.what()).find("skeleton:2"), std::string::npos) << again.what();
    }
  }  // its tensors and stream go away without hanging or leaking
  EXPECT_EQ(read(so, keep_other), ref);
  EXPECT_EQ(read(sc, keep_cpu), ref);
  add_works(other);
  add_works(cpu);
}

// After the test above: a lost device is re-created as a new handle; the old one stays lost.
TEST(SkeletonFaults, RecreateAfterDeviceLost) {
  Device lost = skeleton(2);
  EXPECT_EQ(error_of([&] { (void)Device::recreate(skeleton(1)); }).code(), Errc::invalid_argument);
  Device fresh = Device::recreate(lost);
  EXPECT_NE(fresh, lost);
  EXPECT_EQ(fresh.info().index, 2);
  EXPECT_EQ(fresh.info().backend, "skeleton");
  add_works(fresh);
  EXPECT_EQ(error_of([&] { Stream s(lost); }).code(), Errc::device_lost);
}

}  // namespace

int main(int argc, char** argv) {
  setenv("PORTA_PLUGIN_PATH", PORTA_SKELETON_DIR, 1);
  setenv("PORTA_SKELETON_DEVICES", "3", 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
