// Every op through inner-stride-2 views (inputs and outputs), zero-stride broadcast
// inputs, and in place (out is exactly the input's view) wherever core allows it.
// Kernels that assume a unit inner stride, or read an input after writing the output,
// fail here while the contiguous suites pass.
#include <cmath>

#include "support/harness.h"

namespace porta::test {
namespace {

class StridedInPlace : public DeviceTest {};

const DType kFloat[] = {DType::f32, DType::f16, DType::bf16};

TEST_P(StridedInPlace, ElementwiseThroughSteppedViews) {
  Stream s(device());
  uint32_t seed = 5000;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (const auto& shape : std::vector<std::vector<int64_t>>{{33}, {7, 9}, {2, 3, 17}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << shape_str(shape));
      const HostTensor a = random(shape, t, seed++, -3, 3), b = random(shape, t, seed++, -2, 2);
      Tensor A = upload(s, a, t, Layout::stepped), B = upload(s, b, t, Layout::stepped);
      GuardedOutput add(s, shape, t, Layout::stepped), sm(s, shape, t, Layout::stepped);
      GuardedOutput ge(s, shape, t, Layout::stepped), sc(s, shape, t, Layout::stepped);
      ops::add(s, A, B, add.tensor());
      ops::silu_mul(s, A, B, sm.tensor());
      ops::gelu(s, A, ge.tensor(), false);
      ops::scale(s, A, 0.25f, sc.tensor());
      EXPECT_TRUE(close(add.result(s), ref::cast(ref::binary(ref::Binary::add, a, b, shape), t),
                        OpClass::elementwise, t));
      EXPECT_TRUE(
          close(sm.result(s), ref::binary(ref::Binary::silu_mul, a, b, shape), OpClass::elementwise, t));
      EXPECT_TRUE(close(ge.result(s), ref::unary(ref::Unary::gelu_erf, a), OpClass::elementwise, t));
      EXPECT_TRUE(equal(sc.result(s), ref::cast(ref::unary(ref::Unary::scale, a, 0.25), t)));
      GuardedOutput cp(s, shape, t, Layout::stepped);
      ops::copy(s, A, cp.tensor());
      EXPECT_TRUE(equal(cp.result(s), a));
    }
  }
}

TEST_P(StridedInPlace, ZeroStrideBroadcastInput) {
  // b is a [7, 33] view of one 33-element row (row stride 0), as an engine expands a bias.
  Stream s(device());
  const HostTensor a = random({7, 33}, DType::f32, 5100), row = random({33}, DType::f32, 5101);
  Tensor R = upload(s, row, DType::f32);
  Tensor B = R.view({7, 33}, {0, 1}, R.offset_bytes());
  HostTensor b({7, 33});
  for (int64_t i = 0; i < b.numel(); ++i) b[i] = row[i % 33];
  GuardedOutput o(s, {7, 33}, DType::f32, Layout::padded);
  ops::mul(s, upload(s, a, DType::f32, Layout::transposed), B, o.tensor());
  EXPECT_TRUE(
      close(o.result(s), ref::binary(ref::Binary::mul, a, b, {7, 33}), OpClass::elementwise, DType::f32));
}

TEST_P(StridedInPlace, ElementwiseInPlace) {
  Stream s(device());
  uint32_t seed = 5200;
  const std::vector<int64_t> shape = {5, 33};
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (Layout l : {Layout::contiguous, Layout::stepped, Layout::transposed}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << layout_name(l));
      const HostTensor a = random(shape, t, seed++, -3, 3), b = random(shape, t, seed++, -2, 2);
      Tensor B = upload(s, b, t);
      GuardedOutput io(s, shape, t, l);
      io.set(s, a);
      ops::scale(s, io.tensor(), -2.0f, io.tensor());
      EXPECT_TRUE(equal(io.result(s), ref::cast(ref::unary(ref::Unary::scale, a, -2.0), t)));
      io.set(s, a);
      ops::gelu(s, io.tensor(), io.tensor(), true);
      EXPECT_TRUE(close(io.result(s), ref::unary(ref::Unary::gelu_tanh, a), OpClass::elementwise, t));
      io.set(s, a);
      ops::silu_mul(s, io.tensor(), B, io.tensor());  // out aliases gate
      EXPECT_TRUE(
          close(io.result(s), ref::binary(ref::Binary::silu_mul, a, b, shape), OpClass::elementwise, t));
      io.set(s, a);
      ops::silu_mul(s, B, io.tensor(), io.tensor());  // out aliases up
      EXPECT_TRUE(
          close(io.result(s), ref::binary(ref::Binary::silu_mul, b, a, shape), OpClass::elementwise, t));
      io.set(s, a);
      ops::mul(s, io.tensor(), io.tensor(), io.tensor());  // both inputs and the output
      EXPECT_TRUE(close(io.result(s), ref::binary(ref::Binary::mul, a, a, shape), OpClass::elementwise, t));
      io.set(s, a);
      ops::cast(s, io.tensor(), io.tensor());  // same-dtype cast in place is the identity
      EXPECT_TRUE(equal(io.result(s), a));
    }
  }
}

TEST_P(StridedInPlace, RowOpsThroughSteppedViews) {
  Stream s(device());
  uint32_t seed = 5300;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (const auto& shape : std::vector<std::vector<int64_t>>{{33}, {3, 7, 65}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << shape_str(shape));
      const int64_t D = shape.back();
      const HostTensor x = random(shape, t, seed++, -2, 2);
      const HostTensor w = random({D}, t, seed++, 0.5, 1.5), b = random({D}, t, seed++);
      Tensor X = upload(s, x, t, Layout::stepped);
      Tensor W = upload(s, w, t, Layout::stepped), Bt = upload(s, b, t, Layout::stepped);
      GuardedOutput rn(s, shape, t, Layout::stepped), ln(s, shape, t, Layout::stepped);
      GuardedOutput sm(s, shape, t, Layout::stepped);
      ops::rms_norm(s, X, W, rn.tensor());
      ops::layer_norm(s, X, W, &Bt, ln.tensor());
      EXPECT_TRUE(close(rn.result(s), ref::rms_norm(x, w, 1e-6), OpClass::reduction, t));
      EXPECT_TRUE(close(ln.result(s), ref::layer_norm(x, w, &b, 1e-5), OpClass::reduction, t));
      if (supports("softmax", t)) {
        ops::softmax(s, X, sm.tensor(), 1.3f);
        EXPECT_TRUE(close(sm.result(s), ref::softmax(x, 1.3, nullptr), OpClass::reduction, t));
      }
    }
  }
}

TEST_P(StridedInPlace, RowOpsInPlace) {
  Stream s(device());
  uint32_t seed = 5400;
  const std::vector<int64_t> shape = {2, 3, 5, 64};
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (Layout l : {Layout::contiguous, Layout::stepped}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << layout_name(l));
      const HostTensor x = random(shape, t, seed++, -2, 2);
      const HostTensor w = random({64}, DType::f32, seed++, 0.5, 1.5), b = random({64}, DType::f32, seed++);
      Tensor W = upload(s, w, DType::f32), Bt = upload(s, b, DType::f32);
      GuardedOutput io(s, shape, t, l);
      io.set(s, x);
      ops::layer_norm(s, io.tensor(), W, &Bt, io.tensor());
      EXPECT_TRUE(close(io.result(s), ref::layer_norm(x, w, &b, 1e-5), OpClass::reduction, t));
      if (supports("softmax", t)) {
        io.set(s, x);
        ops::softmax(s, io.tensor(), io.tensor(), 2.0f);
        EXPECT_TRUE(close(io.result(s), ref::softmax(x, 2.0, nullptr), OpClass::reduction, t));
      }
      for (auto style : {ops::RopeStyle::neox, ops::RopeStyle::gptj}) {
        SCOPED_TRACE(style == ops::RopeStyle::neox ? "rope neox" : "rope gptj");
        std::vector<int32_t> pos = {3, 0, 77, 1000, 5};
        Tensor P = Tensor::from_host(s, DType::i32, {5}, pos.data());
        io.set(s, x);
        ops::RopeOptions o;
        o.style = style;
        o.rotary_dim = 48;
        o.theta = 500000.0f;
        ops::rope(s, io.tensor(), P, io.tensor(), o);
        EXPECT_TRUE(
            close(io.result(s), ref::rope(x, pos, false, style, 500000.0, 48), OpClass::reduction, t));
      }
    }
  }
}

// Attention-style activations stored [B, S, H, D] and read as [B, H, S, D] via transpose.
TEST_P(StridedInPlace, RopeOnBshdActivations) {
  Stream s(device());
  const int64_t B = 2, S = 7, H = 3, D = 128;
  const HostTensor x = random({B, H, S, D}, DType::f32, 5500);
  HostTensor bshd({B, S, H, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i)
        for (int64_t d = 0; d < D; ++d)
          bshd[((b * S + i) * H + h) * D + d] = x[((b * H + h) * S + i) * D + d];
  Tensor X = upload(s, bshd, DType::f32).transpose(1, 2);
  std::vector<int32_t> pos(B * S);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i * 37 + 1);
  Tensor P = Tensor::from_host(s, DType::i32, {B, S}, pos.data());
  GuardedOutput o(s, {B, H, S, D}, DType::f32, Layout::transposed);
  ops::RopeOptions opt;
  opt.style = ops::RopeStyle::gptj;
  opt.rotary_dim = 64;
  ops::rope(s, X, P, o.tensor(), opt);
  EXPECT_TRUE(close(o.result(s), ref::rope(x, pos, true, ops::RopeStyle::gptj, 10000.0, 64),
                    OpClass::reduction, DType::f32));
}

TEST_P(StridedInPlace, GemmThroughSteppedViews) {
  Stream s(device());
  uint32_t seed = 5600;
  for (bool tb : {false, true}) {
    SCOPED_TRACE(tb ? "trans_b" : "no trans");
    const int64_t M = 9, N = 21, K = 35;
    const HostTensor a = random({M, K}, DType::f32, seed++), b = random({K, N}, DType::f32, seed++);
    HostTensor bs = b;
    if (tb) {
      bs = HostTensor({N, K});
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) bs[n * K + k] = b[k * N + n];
    }
    Tensor A = upload(s, a, DType::f32, Layout::stepped), Bt = upload(s, bs, DType::f32, Layout::stepped);
    GuardedOutput C(s, {M, N}, DType::f32, Layout::stepped);
    ops::GemmOptions o;
    o.trans_b = tb;
    ops::gemm(s, A, Bt, C.tensor(), o);
    EXPECT_TRUE(close(C.result(s), ref::gemm(a, b, {}, {M, N}, 1.0, 0.0, nullptr, ops::Activation::none),
                      OpClass::matmul, DType::f32));
  }
}

TEST_P(StridedInPlace, GatherAndArgmaxThroughSteppedViews) {
  Stream s(device());
  const HostTensor table = random({20, 33}, DType::f32, 5700);
  std::vector<int32_t> ids = {19, 0, 5, 5, 20, 3, -7};
  Tensor I = Tensor::from_host(s, DType::i32, {7}, ids.data());
  GuardedOutput e(s, {7, 33}, DType::f32, Layout::stepped);
  ops::embedding(s, upload(s, table, DType::f32, Layout::stepped), I, e.tensor());
  EXPECT_TRUE(equal(e.result(s), ref::embedding(table, ids, {7})));
  // ids read through a stepped view too (every other element of a 14-element buffer).
  std::vector<int32_t> wide(14, 1000);
  for (size_t i = 0; i < ids.size(); ++i) wide[2 * i] = ids[i];
  Tensor W = Tensor::from_host(s, DType::i32, {14}, wide.data()).slice(0, 0, 14, 2);
  GuardedOutput e2(s, {7, 33}, DType::f32);
  ops::embedding(s, upload(s, table, DType::f32), W, e2.tensor());
  EXPECT_TRUE(equal(e2.result(s), ref::embedding(table, ids, {7})));

  const HostTensor x = random({5, 77}, DType::f32, 5701, -10, 10);
  GuardedOutput am(s, {5}, DType::i32, Layout::stepped);
  ops::argmax(s, upload(s, x, DType::f32, Layout::stepped), am.tensor());
  const auto want = ref::argmax(x);
  HostTensor w({5});
  for (int64_t i = 0; i < 5; ++i) w[i] = want[static_cast<size_t>(i)];
  EXPECT_TRUE(equal(am.result(s), w));
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StridedInPlace);
PORTA_INSTANTIATE_ON_DEVICES(StridedInPlace);

}  // namespace
}  // namespace porta::test
