// Values at the edges of each dtype and of each op's numerics: cast and fill saturation,
// NaN/Inf and ties-to-even; argmax at row ends, all-equal and all -inf rows; softmax,
// norms, gelu and silu on magnitudes that overflow a naive formula.
#include <cmath>
#include <limits>

#include "support/harness.h"

namespace porta::test {
namespace {

class ValueEdges : public DeviceTest {};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const DType kFloat[] = {DType::f32, DType::f16, DType::bf16};
const DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32};

HostTensor values(const std::vector<double>& v) {
  HostTensor h({static_cast<int64_t>(v.size())});
  h.v = v;
  return h;
}

TEST_P(ValueEdges, CastSpecialValues) {
  Stream s(device());
  // Ties (to even), the integer limits and one past them, values past i32, NaN and Inf.
  const std::vector<double> from_float = {0.5,    1.5,  2.5,  -0.5,        -2.5, 126.5, 127.5,
                                          -128.5, 128,  -129, 2147483520., 3e9,  -3e9,  65504,
                                          1e5,    -1e5, 1e-7, -1e-7,       kInf, -kInf, kNaN};
  const std::vector<double> from_int = {0,     1,      -1,        127,       -128,       128,
                                        -129,  2049,   16777217., 16842753., 2147483647, -2147483648.,
                                        70000, -70000, 65519};
  for (DType from : kAll)
    for (DType to : kAll) {
      if (!supports(from) || !supports(to)) continue;
      SCOPED_TRACE(::testing::Message() << dtype_name(from) << " -> " << dtype_name(to));
      const HostTensor x = ref::cast(values(is_floating(from) ? from_float : from_int), from);
      GuardedOutput o(s, x.shape, to, Layout::stepped);
      ops::cast(s, upload(s, x, from), o.tensor());
      EXPECT_TRUE(equal(o.result(s), ref::cast(x, to)));
    }
}

TEST_P(ValueEdges, FillRoundsAndSaturates) {
  Stream s(device());
  for (DType t : kAll) {
    if (!supports(t)) continue;
    // Just above half-way points of bf16 / f16 whose f32 neighbour is the half-way point:
    // rounding through f32 first lands on the lower value.
    for (double v : {0.1, -2.5, 300.5, 1e10, -1e10, -0.0, 65520.0, 65519.99, 1.0 + 0x1p-8 + 0x1p-30,
                     1.0 + 0x1p-11 + 0x1p-40}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " fill " << v);
      GuardedOutput o(s, {3, 33}, t, Layout::padded);
      ops::fill(s, o.tensor(), v);
      HostTensor want({3, 33});
      for (auto& e : want.v) e = v;
      want = ref::cast(want, t);
      const HostTensor got = o.result(s);
      EXPECT_TRUE(equal(got, want));
      if (v == 0.0 && is_floating(t)) {
        EXPECT_TRUE(std::signbit(got[0])) << "fill(-0.0) lost the sign";
      }
    }
    if (is_floating(t)) {
      GuardedOutput o(s, {5}, t);
      ops::fill(s, o.tensor(), -kInf);
      EXPECT_TRUE(equal(o.result(s), values({-kInf, -kInf, -kInf, -kInf, -kInf})));
    }
  }
}

TEST_P(ValueEdges, ArgmaxRowEndsAndDegenerateRows) {
  Stream s(device());
  uint32_t seed = 6000;
  for (DType t : kAll) {
    if (!supports(t)) continue;
    for (int64_t C : {1, 7, 33, 1000, 1001}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " C=" << C);
      // rows: max at the end, max at the start, all equal, all -inf (floats) / all min (ints),
      // NaN first then larger values, two NaNs.
      HostTensor x = random({6, C}, t, seed++, -50, 50);
      const double top = t == DType::i8 ? 120 : 1000,
                   low = is_floating(t) ? -kInf : (t == DType::i8 ? -128 : -1e9);
      x[0 * C + C - 1] = top;
      x[1 * C] = top;
      for (int64_t c = 0; c < C; ++c) x[2 * C + c] = 3;
      for (int64_t c = 0; c < C; ++c) x[3 * C + c] = low;
      if (is_floating(t)) {
        x[4 * C] = kNaN;
        x[4 * C + C - 1] = top;
        x[5 * C + C / 2] = kNaN;
        x[5 * C + C - 1] = kNaN;
      }
      x = ref::cast(x, t);
      GuardedOutput o(s, {6}, DType::i32);
      ops::argmax(s, upload(s, x, t, Layout::padded), o.tensor());
      const auto want = ref::argmax(x);
      HostTensor w({6});
      for (int64_t i = 0; i < 6; ++i) w[i] = want[static_cast<size_t>(i)];
      EXPECT_TRUE(equal(o.result(s), w));
    }
  }
}

TEST_P(ValueEdges, SoftmaxLargeLogitsScaleAndMask) {
  Stream s(device());
  uint32_t seed = 6100;
  for (DType t : kFloat) {
    if (!supports("softmax", t)) continue;
    SCOPED_TRACE(dtype_name(t));
    // Logits around +-200: exp overflows (or underflows to 0/0) unless the row max is subtracted.
    HostTensor x = random({4, 3, 65}, t, seed++, -8, 8);
    for (int64_t i = 0; i < x.numel(); ++i) x[i] += (i / 65) % 2 ? -200.0 : 200.0;
    x = ref::cast(x, t);
    GuardedOutput o(s, {4, 3, 65}, t);
    ops::softmax(s, upload(s, x, t), o.tensor());
    EXPECT_TRUE(close(o.result(s), ref::softmax(x, 1.0, nullptr), OpClass::reduction, t));
    // An additive finite mask [3, 1] (broadcast over rows and columns) together with a scale.
    const HostTensor m = random({3, 1}, DType::f16, seed++, -4, 4);
    Tensor M = upload(s, m, DType::f16);
    const HostTensor y = random({4, 3, 65}, t, seed++, -3, 3);
    GuardedOutput o2(s, {4, 3, 65}, t, Layout::stepped);
    ops::softmax(s, upload(s, y, t, Layout::padded), o2.tensor(), 2.5f, &M);
    EXPECT_TRUE(close(o2.result(s), ref::softmax(y, 2.5, &m), OpClass::reduction, t));
  }
}

TEST_P(ValueEdges, NormsOnLargeOffsetsAndMagnitudes) {
  Stream s(device());
  uint32_t seed = 6200;
  const HostTensor w = random({256}, DType::f32, seed++, 0.5, 1.5);
  Tensor W = upload(s, w, DType::f32);
  // layer_norm of 30 + U(-1, 1): E[x²] - E[x]² in f32 loses ~3 digits, a centred variance does not.
  HostTensor x = random({6, 256}, DType::f32, seed++);
  for (auto& v : x.v) v = static_cast<float>(v + 30.0);
  GuardedOutput ln(s, {6, 256}, DType::f32);
  ops::layer_norm(s, upload(s, x, DType::f32), W, nullptr, ln.tensor());
  EXPECT_TRUE(close(ln.result(s), ref::layer_norm(x, w, nullptr, 1e-5), OpClass::reduction, DType::f32));
  // rms_norm of f16 values near 6e4: x² overflows f16, so accumulation must be wider.
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    SCOPED_TRACE(dtype_name(t));
    const HostTensor y = random({3, 256}, t, seed++, -6e4, 6e4);
    GuardedOutput rn(s, {3, 256}, t);
    ops::rms_norm(s, upload(s, y, t), W, rn.tensor());
    EXPECT_TRUE(close(rn.result(s), ref::rms_norm(y, w, 1e-6), OpClass::reduction, t));
  }
}

TEST_P(ValueEdges, ActivationsOnLargeMagnitudes) {
  Stream s(device());
  uint32_t seed = 6300;
  for (DType t : kFloat) {
    if (!supports(t)) continue;
    SCOPED_TRACE(dtype_name(t));
    HostTensor x = random({2, 100}, t, seed++, -30, 30);
    // Beyond exp's range in f32: a sigmoid written exp(x)/(1+exp(x)) gives inf/inf = NaN.
    x[0] = 100;
    x[1] = -100;
    x[2] = 1e4;
    x[3] = -1e4;
    x = ref::cast(x, t);
    const HostTensor up = random({2, 100}, t, seed++, 0.5, 1.5);
    Tensor X = upload(s, x, t);
    GuardedOutput g1(s, {2, 100}, t), g2(s, {2, 100}, t), sm(s, {2, 100}, t);
    ops::gelu(s, X, g1.tensor(), true);
    ops::gelu(s, X, g2.tensor(), false);
    ops::silu_mul(s, X, upload(s, up, t), sm.tensor());
    EXPECT_TRUE(close(g1.result(s), ref::unary(ref::Unary::gelu_tanh, x), OpClass::elementwise, t));
    EXPECT_TRUE(close(g2.result(s), ref::unary(ref::Unary::gelu_erf, x), OpClass::elementwise, t));
    EXPECT_TRUE(
        close(sm.result(s), ref::binary(ref::Binary::silu_mul, x, up, {2, 100}), OpClass::elementwise, t));
  }
}

TEST_P(ValueEdges, EmbeddingIdRanksAndDtypes) {
  Stream s(device());
  uint32_t seed = 6400;
  const std::vector<int32_t> ids = {0, 2147483647, 9, -2147483647 - 1, 4, 1, 9, 8, 10, 3, 2, 5};
  for (DType t : kAll) {
    if (!supports(t)) continue;
    const HostTensor table = random({10, 7}, t, seed++, -100, 100);
    for (const auto& ids_shape : std::vector<std::vector<int64_t>>{{12}, {3, 4}, {2, 3, 2}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " ids " << shape_str(ids_shape));
      Shape is;
      is.rank = static_cast<int>(ids_shape.size());
      for (int i = 0; i < is.rank; ++i) is[i] = ids_shape[static_cast<size_t>(i)];
      Tensor I = Tensor::from_host(s, DType::i32, is, ids.data());
      auto out_shape = ids_shape;
      out_shape.push_back(7);
      GuardedOutput o(s, out_shape, t, Layout::padded);
      ops::embedding(s, upload(s, table, t, Layout::transposed), I, o.tensor());
      EXPECT_TRUE(equal(o.result(s), ref::embedding(table, ids, ids_shape)));
    }
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ValueEdges);
PORTA_INSTANTIATE_ON_DEVICES(ValueEdges);

}  // namespace
}  // namespace porta::test
