// CUDA-specific failure cases on a real device: an allocation past the device's memory,
// the device filled until the pool refuses, and a large split-K workspace requested while
// memory is nearly full. Each must be Errc::out_of_memory (never an abort or a sticky
// error), other tensors keep their values, and the device computes correctly afterwards,
// on the tensor-core paths too. With no CUDA device no instance runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "porta/porta.h"
#include "support/failure_checks.h"
#include "support/harness.h"

namespace porta::test {
namespace {

class CudaNegative : public DeviceTest {
 protected:
  // A bf16 GEMM whose shape takes the tensor-core path (gemv / sm80 / sm90) plus the
  // element-wise check: the paths most likely to keep state across a failure.
  void expect_usable_with_gemm(uint32_t seed) {
    expect_device_usable(device());
    Stream s(device());
    const HostTensor a = random({256, 512}, DType::bf16, seed);
    const HostTensor b = random({512, 384}, DType::bf16, seed + 1);
    Tensor A = upload(s, a, DType::bf16), B = upload(s, b, DType::bf16);
    GuardedOutput C(s, {256, 384}, DType::f32);
    ops::gemm(s, A, B, C.tensor());
    const HostTensor want =
        ref::gemm(a, b, HostTensor({256, 384}), {256, 384}, 1.0f, 0.0f, nullptr, ops::Activation::none);
    EXPECT_TRUE(close(C.result(s), want, OpClass::matmul, DType::f32));
  }
};

TEST_P(CudaNegative, PastDeviceMemoryThenUsable) {
  Stream s(device());
  const std::vector<float> witness = {1.0f, -2.0f, 3.5f, 7.25f};
  Tensor keep = Tensor::from_host(s, DType::f32, {4}, witness.data());
  const int64_t too_many = static_cast<int64_t>(device().info().memory_bytes / 4) + (int64_t{1} << 28);
  expect_error(Errc::out_of_memory, {"bytes"}, [&] { Tensor::empty(device(), DType::f32, {too_many}); });
  std::vector<float> back(4);
  keep.copy_to_host(s, back.data());
  EXPECT_EQ(back, witness) << "a failed allocation changed an unrelated tensor";
  expect_usable_with_gemm(9500);
}

// Whole-device exhaustion in 4 GiB steps (the pool keeps freed memory, so the second part
// checks that what it holds is reused rather than reported as exhausted).
TEST_P(CudaNegative, FillTheDeviceThenRelease) {
  const int64_t chunk = int64_t{1} << 32;
  std::vector<Tensor> held = allocate_until_out_of_memory(device(), chunk);
  // With the device nearly full a GEMM that wants a split-K workspace (few output tiles,
  // long K) either runs or reports out_of_memory; it never corrupts the queue.
  try {
    Stream s(device());
    Tensor a = Tensor::empty(device(), DType::bf16, {64, 65536});
    Tensor b = Tensor::empty(device(), DType::bf16, {65536, 64});
    Tensor c = Tensor::empty(device(), DType::f32, {64, 64});
    ops::fill(s, a, 1.0);
    ops::fill(s, b, 0.5);
    try {
      ops::gemm(s, a, b, c);
      std::vector<float> back(64 * 64);
      c.copy_to_host(s, back.data());
      for (float v : back) ASSERT_EQ(v, 32768.0f);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::out_of_memory) << e.what();
    }
  } catch (const Error& e) {
    // Even the small operands may not fit next to the held chunks.
    EXPECT_EQ(e.code(), Errc::out_of_memory) << e.what();
  }
  held.clear();
  expect_usable_with_gemm(9600);
  Tensor again = Tensor::empty(device(), DType::i8, {chunk});  // freed memory is available again
  EXPECT_EQ(again.nbytes(), chunk);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaNegative);
PORTA_INSTANTIATE_ON_DEVICES(CudaNegative);

}  // namespace
}  // namespace porta::test
