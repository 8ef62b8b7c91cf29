// Row-wise ops against the float64 reference: rms_norm, layer_norm, softmax, rope.
#include <cmath>
#include <limits>

#include "support/harness.h"

namespace porta::test {
namespace {

class RowOps : public DeviceTest {};

const DType kFloat[] = {DType::f32, DType::f16, DType::bf16};
const std::vector<std::vector<int64_t>> kShapes = {{1}, {7}, {1000}, {3, 33}, {2, 3, 7}, {2, 2, 3, 64}};

TEST_P(RowOps, RmsNormAndLayerNorm) {
  Stream s(device());
  uint32_t seed = 2000;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (const auto& shape : kShapes)
      for (Layout l : {Layout::contiguous, Layout::transposed}) {
        SCOPED_TRACE(::testing::Message()
                     << dtype_name(t) << " " << shape_str(shape) << " " << layout_name(l));
        const HostTensor x = random(shape, t, seed++);
        const HostTensor w = random({shape.back()}, DType::f32, seed++, 0.5, 1.5);
        const HostTensor b = random({shape.back()}, t, seed++);
        Tensor X = upload(s, x, t, l), W = upload(s, w, DType::f32), Bt = upload(s, b, t);
        GuardedOutput o1(s, shape, t, l);
        ops::rms_norm(s, X, W, o1.tensor(), 1e-5f);
        EXPECT_TRUE(close(o1.result(s), ref::rms_norm(x, w, 1e-5), OpClass::reduction, t));
        GuardedOutput o2(s, shape, t, Layout::padded);
        ops::layer_norm(s, X, W, &Bt, o2.tensor(), 1e-5f);
        if (shape.back() > 1) {  // D == 1 normalises to exactly the bias: nothing to compare
          EXPECT_TRUE(close(o2.result(s), ref::layer_norm(x, w, &b, 1e-5), OpClass::reduction, t));
        }
        GuardedOutput o3(s, shape, t);
        ops::layer_norm(s, X, W, nullptr, o3.tensor(), 1e-5f);
        if (shape.back() > 1) {
          EXPECT_TRUE(close(o3.result(s), ref::layer_norm(x, w, nullptr, 1e-5), OpClass::reduction, t));
        }
      }
  }
}

TEST_P(RowOps, RmsNormInPlace) {
  Stream s(device());
  const HostTensor x = random({5, 33}, DType::f32, 2100);
  const HostTensor w = random({33}, DType::f32, 2101);
  GuardedOutput io(s, {5, 33}, DType::f32, Layout::padded);
  io.set(s, x);
  ops::rms_norm(s, io.tensor(), upload(s, w, DType::f32), io.tensor());
  EXPECT_TRUE(close(io.result(s), ref::rms_norm(x, w, 1e-6), OpClass::reduction, DType::f32));
}

TEST_P(RowOps, SoftmaxWithScaleAndMask) {
  Stream s(device());
  uint32_t seed = 2200;
  for (DType t : kFloat) {
    if (!supports("softmax", t)) continue;
    for (const auto& shape : kShapes) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << shape_str(shape));
      const HostTensor x = random(shape, t, seed++, -4, 4);
      Tensor X = upload(s, x, t, Layout::padded);
      GuardedOutput o(s, shape, t);
      ops::softmax(s, X, o.tensor(), 0.7f);
      EXPECT_TRUE(close(o.result(s), ref::softmax(x, 0.7, nullptr), OpClass::reduction, t));
    }
    // Causal-style mask [S, S] broadcast over heads, with one fully masked row.
    const int64_t S = 9;
    HostTensor mask({S, S});
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j)
        mask[i * S + j] = (j > i || i == 4) ? -std::numeric_limits<double>::infinity() : 0.0;
    const HostTensor x = random({2, 3, S, S}, t, seed++, -3, 3);
    GuardedOutput o(s, {2, 3, S, S}, t);
    Tensor M = upload(s, mask, DType::f32);
    ops::softmax(s, upload(s, x, t), o.tensor(), 1.0f, &M);
    // Masked entries are zero by design, so the weak-test guard is off here.
    EXPECT_TRUE(close(o.result(s), ref::softmax(x, 1.0, &mask), OpClass::reduction, t, false));
  }
}

TEST_P(RowOps, RopeStylesAndPositions) {
  Stream s(device());
  uint32_t seed = 2300;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (auto style : {ops::RopeStyle::neox, ops::RopeStyle::gptj})
      for (int rot : {0, 32})
        for (bool per_batch : {false, true}) {
          SCOPED_TRACE(::testing::Message() << dtype_name(t) << " style " << static_cast<int>(style)
                                            << " rot " << rot << " per_batch " << per_batch);
          const int64_t B = 2, H = 3, S = 7, D = 64;
          const HostTensor x = random({B, H, S, D}, t, seed++);
          std::vector<int32_t> pos(static_cast<size_t>(per_batch ? B * S : S));
          for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>((i * 977) % 4096);
          Tensor P = per_batch ? Tensor::from_host(s, DType::i32, {B, S}, pos.data())
                               : Tensor::from_host(s, DType::i32, {S}, pos.data());
          // x read as [B, S, H, D] storage through a view, the way engines keep activations.
          Tensor X = upload(s, x, t);
          GuardedOutput o(s, {B, H, S, D}, t, Layout::padded);
          ops::RopeOptions opt;
          opt.style = style;
          opt.rotary_dim = rot;
          ops::rope(s, X, P, o.tensor(), opt);
          EXPECT_TRUE(close(o.result(s), ref::rope(x, pos, per_batch, style, 10000.0, rot ? rot : 64),
                            OpClass::reduction, t));
        }
  }
}

// Per-pair frequency divisors (Llama 3 scaling): factors from 1 to 32 over the pairs, large
// positions (scaled angles stay exact only when the divisor reaches every backend's table).
TEST_P(RowOps, RopeFreqFactors) {
  Stream s(device());
  uint32_t seed = 2400;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    for (auto style : {ops::RopeStyle::neox, ops::RopeStyle::gptj})
      for (int rot : {0, 32}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " style " << static_cast<int>(style) << " rot " << rot);
        const int64_t B = 1, H = 2, S = 5, D = 128;
        const int R = rot ? rot : static_cast<int>(D);
        const HostTensor x = random({B, H, S, D}, t, seed++);
        std::vector<int32_t> pos = {0, 1, 4000, 70000, 131071};
        std::vector<float> ff(static_cast<size_t>(R / 2));
        for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + 31.0f * static_cast<float>(i) / static_cast<float>(ff.size());
        Tensor P = Tensor::from_host(s, DType::i32, {S}, pos.data());
        GuardedOutput o(s, {B, H, S, D}, t, Layout::padded);
        ops::RopeOptions opt;
        opt.style = style;
        opt.rotary_dim = rot;
        opt.theta = 500000.0f;
        opt.freq_factors = ff;
        ops::rope(s, upload(s, x, t, Layout::transposed), P, o.tensor(), opt);
        const HostTensor want = ref::rope(x, pos, false, style, 500000.0, R, ff);
        EXPECT_TRUE(close(o.result(s), want, OpClass::reduction, t));
        // and the factors matter: the unscaled result differs
        EXPECT_FALSE(close(o.result(s), ref::rope(x, pos, false, style, 500000.0, R), OpClass::reduction, t));
      }
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RowOps);
PORTA_INSTANTIATE_ON_DEVICES(RowOps);

}  // namespace
}  // namespace porta::test
