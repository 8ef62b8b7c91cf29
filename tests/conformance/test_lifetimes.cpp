// Core's lifetime rule (src/core/lifetimes.cpp): an engine may drop every handle right after
// enqueuing work. Memory that queued work reads or writes is released only after the work
// passed: another stream that allocates and overwrites memory meanwhile neither corrupts the
// pending work's inputs nor is overwritten by its late outputs. Afterwards the memory is
// given back, through Stream::synchronize and through the fence path alone.
#include "support/harness.h"

namespace porta::test {
namespace {

class Lifetimes : public DeviceTest {};

constexpr int64_t M = 24, N = 40, K = 1024;  // long enough to be still queued on async devices

// Async upload of h (f32) into a fresh tensor; h must outlive only this call.
Tensor upload_async(Stream& s, const HostTensor& h) {
  std::vector<float> f(h.v.begin(), h.v.end());
  Shape shape;
  shape.rank = h.rank();
  for (int i = 0; i < h.rank(); ++i) shape[i] = h.shape[static_cast<size_t>(i)];
  Tensor t = Tensor::empty(s.device(), DType::f32, shape);
  t.copy_from_host(s, f.data());
  return t;
}

// Overwrites memory on `other` the way an unrelated engine thread would: fresh tensors of the
// sizes just released, filled at once. Returns them (they must keep their value).
std::vector<Tensor> churn(Stream& other, float value) {
  std::vector<Tensor> out;
  for (const Shape& sh : {Shape{M, K}, Shape{K, N}, Shape{M, N}, Shape{M, N}}) {
    out.push_back(Tensor::empty(other.device(), DType::f32, sh));
    ops::fill(other, out.back(), value);
  }
  return out;
}

TEST_P(Lifetimes, HandlesDroppedRightAfterEnqueue) {
  Stream s(device()), other(device());
  const HostTensor a = random({M, K}, DType::f32, 4100), b = random({K, N}, DType::f32, 4101);
  const HostTensor want = ref::unary(
      ref::Unary::scale, ref::gemm(a, b, HostTensor(), {M, N}, 1, 0, nullptr, ops::Activation::none), 0.5);
  Tensor out = Tensor::empty(device(), DType::f32, {M, N});
  other.synchronize();
  const uint64_t base = device().allocated_bytes();
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    {
      Tensor A = upload_async(s, a), B = upload_async(s, b);
      Tensor C = Tensor::empty(device(), DType::f32, {M, N});
      ops::gemm(s, A, B, C);
      ops::scale(s, C, 0.5f, out);
    }  // A, B, C: every handle gone while the work may still be queued
    const auto kept = churn(other, -7.0f);
    other.synchronize();
    EXPECT_TRUE(close(download(s, out), want, OpClass::matmul, DType::f32));
    for (const auto& t : kept) {
      const HostTensor h = download(other, t);
      for (double v : h.v) ASSERT_EQ(v, -7.0) << "a tensor of another stream was overwritten by late work";
    }
  }
  s.synchronize();
  other.synchronize();
  EXPECT_EQ(device().allocated_bytes(), base) << "memory released by handles was not given back";
}

TEST_P(Lifetimes, FencesAloneGiveMemoryBack) {
  Stream s(device());
  const HostTensor a = random({M, K}, DType::f32, 4200), b = random({K, N}, DType::f32, 4201);
  Tensor out = Tensor::empty(device(), DType::f32, {M, N});
  s.synchronize();
  const uint64_t base = device().allocated_bytes();
  for (int round = 0; round < 8; ++round) {  // never synchronized in between
    Tensor A = upload_async(s, a), B = upload_async(s, b);
    ops::gemm(s, A, B, out);
  }
  // No Stream::synchronize: each submission records a fence for what was released before it
  // and frees what earlier fences cover once they passed.
  for (int i = 0; i < 2; ++i) {
    Event e(device());
    s.record(e);
    e.synchronize();
    ops::fill(s, out, 0.0);
  }
  EXPECT_EQ(device().allocated_bytes(), base);
  const HostTensor h = download(s, out);
  for (double v : h.v) ASSERT_EQ(v, 0.0);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Lifetimes);
PORTA_INSTANTIATE_ON_DEVICES(Lifetimes);

}  // namespace
}  // namespace porta::test
