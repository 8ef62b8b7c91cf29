// Element-wise and data-movement ops against the reference: silu_mul, gelu, add/mul
// with broadcasting, scale, cast between every dtype pair, copy, fill, embedding, argmax.
#include <cmath>
#include <limits>

#include "support/harness.h"

namespace porta::test {
namespace {

class Elementwise : public DeviceTest {};

const DType kFloat[] = {DType::f32, DType::f16, DType::bf16};
const DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32};
const Layout kLayouts[] = {Layout::contiguous, Layout::padded, Layout::transposed};

TEST_P(Elementwise, UnaryOps) {
  Stream s(device());
  uint32_t seed = 3000;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (const auto& shape : std::vector<std::vector<int64_t>>{{1}, {7}, {1000}, {33, 7}, {2, 3, 4, 5}})
      for (Layout l : kLayouts) {
        SCOPED_TRACE(::testing::Message()
                     << dtype_name(t) << " " << shape_str(shape) << " " << layout_name(l));
        const HostTensor x = random(shape, t, seed++, -3, 3);
        Tensor X = upload(s, x, t, l);
        GuardedOutput g1(s, shape, t, l), g2(s, shape, t), g3(s, shape, t, Layout::padded);
        ops::gelu(s, X, g1.tensor(), true);
        ops::gelu(s, X, g2.tensor(), false);
        ops::scale(s, X, -1.5f, g3.tensor());
        EXPECT_TRUE(
            close(g1.result(s), ref::cast(ref::unary(ref::Unary::gelu_tanh, x), t), OpClass::elementwise, t));
        EXPECT_TRUE(
            close(g2.result(s), ref::cast(ref::unary(ref::Unary::gelu_erf, x), t), OpClass::elementwise, t));
        EXPECT_TRUE(close(g3.result(s), ref::unary(ref::Unary::scale, x, -1.5), OpClass::elementwise, t));
      }
  }
}

TEST_P(Elementwise, BinaryOpsWithBroadcasting) {
  Stream s(device());
  uint32_t seed = 3100;
  struct Shapes {
    std::vector<int64_t> a, b, out;
  };
  const std::vector<Shapes> cases = {{{1000}, {1000}, {1000}},
                                     {{7, 33}, {33}, {7, 33}},
                                     {{7, 1}, {1, 33}, {7, 33}},
                                     {{2, 3, 4, 5}, {3, 1, 5}, {2, 3, 4, 5}},
                                     {{1}, {2, 3, 7}, {2, 3, 7}}};
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (const auto& c : cases)
      for (Layout l : kLayouts) {
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << shape_str(c.a) << " op "
                                          << shape_str(c.b) << " " << layout_name(l));
        const HostTensor a = random(c.a, t, seed++, -3, 3), b = random(c.b, t, seed++, -2, 2);
        Tensor A = upload(s, a, t, l), B = upload(s, b, t);
        GuardedOutput add(s, c.out, t, l), mul(s, c.out, t), sm(s, c.out, t, Layout::padded);
        ops::add(s, A, B, add.tensor());
        ops::mul(s, A, B, mul.tensor());
        ops::silu_mul(s, A, B, sm.tensor());
        EXPECT_TRUE(close(add.result(s), ref::cast(ref::binary(ref::Binary::add, a, b, c.out), t),
                          OpClass::elementwise, t));
        EXPECT_TRUE(close(mul.result(s), ref::cast(ref::binary(ref::Binary::mul, a, b, c.out), t),
                          OpClass::elementwise, t));
        EXPECT_TRUE(
            close(sm.result(s), ref::binary(ref::Binary::silu_mul, a, b, c.out), OpClass::elementwise, t));
      }
  }
}

TEST_P(Elementwise, InPlaceAdd) {
  Stream s(device());
  const HostTensor a = random({9, 33}, DType::f32, 3200), b = random({33}, DType::f32, 3201);
  GuardedOutput io(s, {9, 33}, DType::f32, Layout::transposed);
  io.set(s, a);
  ops::add(s, io.tensor(), upload(s, b, DType::f32), io.tensor());
  EXPECT_TRUE(
      close(io.result(s), ref::binary(ref::Binary::add, a, b, {9, 33}), OpClass::elementwise, DType::f32));
}

TEST_P(Elementwise, CastEveryDtypePair) {
  Stream s(device());
  uint32_t seed = 3300;
  for (DType from : kAll)
    for (DType to : kAll) {
      if (!supports(from) || !supports(to)) continue;
      SCOPED_TRACE(::testing::Message() << dtype_name(from) << " -> " << dtype_name(to));
      // Values past the integer ranges check saturation; halves check rounding to even.
      HostTensor x = random({7, 33}, from, seed++, -300, 300);
      if (is_floating(from)) {
        x[0] = 2.5;
        x[1] = -3.5;
        x[2] = 1e9;
        x[3] = -1e9;
        x = ref::cast(x, from);
      }
      GuardedOutput o(s, {7, 33}, to, Layout::padded);
      ops::cast(s, upload(s, x, from, Layout::transposed), o.tensor());
      EXPECT_TRUE(equal(o.result(s), ref::cast(x, to)));
    }
}

TEST_P(Elementwise, CopyStridedAndFill) {
  Stream s(device());
  uint32_t seed = 3400;
  for (DType t : kAll) {
    if (!supports(t)) continue;
    for (Layout l : kLayouts) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << layout_name(l));
      const HostTensor x = random({3, 7, 33}, t, seed++, -100, 100);
      GuardedOutput o(s, {3, 7, 33}, t);
      ops::copy(s, upload(s, x, t, l), o.tensor());
      EXPECT_TRUE(equal(o.result(s), x));
      GuardedOutput f(s, {7, 1000}, t, l);
      ops::fill(s, f.tensor(), 3.0);
      HostTensor want({7, 1000});
      for (auto& v : want.v) v = 3.0;
      EXPECT_TRUE(equal(f.result(s), want));
    }
  }
  // A sliced view with a step, copied out: only every other element is read.
  const HostTensor x = random({10, 8}, DType::f32, seed++);
  Tensor X = upload(s, x, DType::f32).slice(0, 1, 10, 2);
  GuardedOutput o(s, {5, 8}, DType::f32);
  ops::copy(s, X, o.tensor());
  HostTensor want({5, 8});
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 8; ++j) want[i * 8 + j] = x[(1 + 2 * i) * 8 + j];
  EXPECT_TRUE(equal(o.result(s), want));
}

TEST_P(Elementwise, EmbeddingGathersAndZeroesBadIds) {
  Stream s(device());
  uint32_t seed = 3500;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    const HostTensor table = random({50, 33}, t, seed++);
    std::vector<int32_t> ids = {0, 49, 7, -1, 50, 7, 3, 12};
    Tensor I = Tensor::from_host(s, DType::i32, {2, 4}, ids.data());
    GuardedOutput o(s, {2, 4, 33}, t, Layout::padded);
    ops::embedding(s, upload(s, table, t), I, o.tensor());
    EXPECT_TRUE(equal(o.result(s), ref::embedding(table, ids, {2, 4})));
  }
}

TEST_P(Elementwise, ArgmaxTiesAndNaN) {
  Stream s(device());
  uint32_t seed = 3600;
  for (DType t : kAll) {
    if (!supports(t)) continue;
    SCOPED_TRACE(dtype_name(t));
    HostTensor x = random({6, 1000}, t, seed++, -100, 100);
    x[5] = x[900] = 1000;  // tie in row 0: first wins (i8 saturates both to 127)
    x = ref::cast(x, t);
    if (is_floating(t)) x[1000 + 17] = std::numeric_limits<double>::quiet_NaN();  // NaN wins in row 1
    Tensor X = upload(s, x, t, Layout::transposed);
    GuardedOutput o(s, {6}, DType::i32);
    ops::argmax(s, X, o.tensor());
    const auto want = ref::argmax(x);
    HostTensor w({6});
    for (int64_t i = 0; i < 6; ++i) w[i] = want[static_cast<size_t>(i)];
    EXPECT_TRUE(equal(o.result(s), w));
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Elementwise);
PORTA_INSTANTIATE_ON_DEVICES(Elementwise);

}  // namespace
}  // namespace porta::test
