// Ordering and lifetime rules that asynchronous backends must keep: host memory reusable as
// soon as copy_from_host returns, inputs that are dropped before the work runs, work on two
// streams ordered by an event, and two host threads each driving its own stream.
#include <cmath>
#include <thread>

#include "support/harness.h"

namespace porta::test {
namespace {

class Streams : public DeviceTest {};

TEST_P(Streams, HostBufferReusableAfterUpload) {
  Stream s(device());
  std::vector<float> host(4096);
  Tensor a = Tensor::empty(device(), DType::f32, {4096}), b = Tensor::empty(device(), DType::f32, {4096});
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i);
  a.copy_from_host(s, host.data());
  for (auto& v : host) v = -1.0f;  // must not reach a
  b.copy_from_host(s, host.data());
  Tensor sum = Tensor::empty(device(), DType::f32, {4096});
  ops::add(s, a, b, sum);
  std::vector<float> got(4096);
  sum.copy_to_host(s, got.data());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(i) - 1.0f) << "element " << i;
}

TEST_P(Streams, InputsDroppedBeforeTheWorkRuns) {
  // Each input tensor is released right after the op is enqueued, with no synchronize:
  // the device buffer must live until the op has read it.
  Stream s(device());
  std::vector<Tensor> outs;
  for (int i = 0; i < 16; ++i) {
    std::vector<float> host(1000, static_cast<float>(i));
    Tensor in = Tensor::from_host(s, DType::f32, {1000}, host.data());
    Tensor gap = Tensor::empty(device(), DType::f32, {10, 100});
    ops::scale(s, in.reshape({10, 100}), 3.0f, gap);
    Tensor out = Tensor::empty(device(), DType::f32, {10, 100});
    ops::gelu(s, gap, out);
    outs.push_back(out);
  }
  s.synchronize();
  for (int i = 0; i < 16; ++i) {
    const double x = 3.0 * i;
    const double want = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    std::vector<float> got(1000);
    outs[static_cast<size_t>(i)].copy_to_host(s, got.data());
    for (float v : got) ASSERT_NEAR(v, want, 1e-5 * (1 + want)) << "op " << i;
  }
}

TEST_P(Streams, EventOrdersTwoStreams) {
  Stream producer(device()), consumer(device());
  Event ready(device());
  const HostTensor x = random({64, 65}, DType::f32, 8000);
  Tensor X = upload(producer, x, DType::f32);
  Tensor Y = Tensor::empty(device(), DType::f32, {64, 65});
  ops::softmax(producer, X, Y, 0.5f);
  producer.record(ready);
  consumer.wait(ready);
  GuardedOutput Z(consumer, {64, 65}, DType::f32, Layout::padded);
  ops::scale(consumer, Y, 2.0f, Z.tensor());
  consumer.synchronize();
  EXPECT_TRUE(close(Z.result(consumer), ref::unary(ref::Unary::scale, ref::softmax(x, 0.5, nullptr), 2.0),
                    OpClass::reduction, DType::f32));
  Event end(device());
  consumer.record(end);
  end.synchronize();
  EXPECT_GE(Event::elapsed_ms(ready, end), 0.0);
}

TEST_P(Streams, TwoHostThreadsTwoStreams) {
  // Engines give each worker thread its own stream on one device; results must not mix.
  const int64_t M = 37, N = 70, K = 300;
  HostTensor a[2], b[2], want[2], got[2];
  for (int t = 0; t < 2; ++t) {
    a[t] = random({M, K}, DType::f32, 8100 + 2 * t);
    b[t] = random({K, N}, DType::f32, 8101 + 2 * t);
    want[t] = ref::gemm(a[t], b[t], {}, {M, N}, 1.0, 0.0, nullptr, ops::Activation::none);
  }
  std::string errors[2];
  auto work = [&](int t) {
    try {
      Stream s(device());
      Tensor A = upload(s, a[t], DType::f32), B = upload(s, b[t], DType::f32);
      Tensor C = Tensor::empty(device(), DType::f32, {M, N});
      for (int rep = 0; rep < 20; ++rep) ops::gemm(s, A, B, C);
      got[t] = download(s, C);
    } catch (const std::exception& e) {
      errors[t] = e.what();
    }
  };
  std::thread other(work, 1);
  work(0);
  other.join();
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(t);
    EXPECT_EQ(errors[t], "");
    EXPECT_TRUE(close(got[t], want[t], OpClass::matmul, DType::f32));
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Streams);
PORTA_INSTANTIATE_ON_DEVICES(Streams);

}  // namespace
}  // namespace porta::test
