// The 16-byte vector paths of the CUDA backend's row and element-wise ops at LLM shapes,
// against the float64 reference. The conformance suite's rows are short (<= 1000); these
// shapes reach every plan of rows_plan.h: one 32-lane group per row (K = 1..8), one block
// per row (256..1024 threads), rows that leave part of the last vectors empty, in place,
// broadcast masks/biases, both rope styles with a partial rotary span, and argmax split
// over many blocks. Runs on cuda/hip devices only (PORTA_TEST_DEVICES=cuda); without one
// there is no instance and nothing to run.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "support/harness.h"

namespace porta::test {
namespace {

// An output view inside a guarded buffer, like the harness's GuardedOutput, but starting 16
// bytes aligned (GuardedOutput's 37-element guard misaligns views on purpose, which sends
// every call to the strided kernels): the guards are 64 elements on each side.
class AlignedOutput {
 public:
  AlignedOutput(Stream& s, const std::vector<int64_t>& shape, DType t) {
    Shape sh, st;
    sh.rank = st.rank = static_cast<int>(shape.size());
    int64_t n = 1;
    for (int d = sh.rank - 1; d >= 0; --d) {
      sh[d] = shape[static_cast<size_t>(d)];
      st[d] = n;
      n *= sh[d];
    }
    n_ = n;
    es_ = static_cast<int64_t>(dtype_size(t));
    storage_ = Tensor::empty(s.device(), t, Shape{n + 2 * kPad});
    pattern_.resize(static_cast<size_t>((n + 2 * kPad) * es_));
    for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<uint8_t>(0x5a ^ (i * 131));
    storage_.copy_from_host(s, pattern_.data());
    view_ = storage_.view(sh, st, kPad * es_);
    ops::fill(s, view_, is_floating(t) ? std::nan("") : -77.0);
    s.synchronize();
  }
  Tensor& tensor() { return view_; }
  void set(Stream& s, const HostTensor& h) {
    ops::copy(s, upload(s, h, view_.dtype()), view_);
    s.synchronize();
  }
  HostTensor result(Stream& s) const {
    std::vector<uint8_t> all(pattern_.size());
    storage_.copy_to_host(s, all.data());
    const size_t lo = static_cast<size_t>(kPad * es_), hi = static_cast<size_t>((kPad + n_) * es_);
    for (size_t i = 0; i < all.size(); ++i)
      if ((i < lo || i >= hi) && all[i] != pattern_[i]) {
        ADD_FAILURE() << "guard byte " << i << " changed (output written out of bounds)";
        break;
      }
    return download(s, view_);
  }

 private:
  static constexpr int64_t kPad = 64;  // 128 or 256 bytes: keeps the view 16-byte aligned
  Tensor storage_, view_;
  std::vector<uint8_t> pattern_;
  int64_t n_ = 0, es_ = 1;
};

class CudaRowsOps : public DeviceTest {
 protected:
  // PORTA_ROWS_OPS_ANY_BACKEND=1 runs the cases on any device (checks the test itself on
  // the cpu backend of a host without a GPU).
  void SetUp() override {
    const std::string& b = device().info().backend;
    if (b != "cuda" && b != "hip" && !std::getenv("PORTA_ROWS_OPS_ANY_BACKEND"))
      GTEST_SKIP() << "CUDA-backend paths only";
  }
};

struct RowCase {
  DType t;
  int64_t rows, D;
};

// Group-per-row (D <= 1024) and block-per-row shapes, including partial last vectors.
const RowCase kRowCases[] = {
    {DType::f32, 9, 1024},  {DType::bf16, 9, 1024}, {DType::f16, 33, 136},   {DType::bf16, 3, 2056},
    {DType::bf16, 3, 4096}, {DType::f32, 2, 8192},  {DType::bf16, 5, 16384}, {DType::f32, 4, 16384},
    {DType::f16, 300, 512}, {DType::f32, 2, 20000},  // the last: too long for registers, strided kernel
};

TEST_P(CudaRowsOps, NormsAtLlmShapes) {
  Stream s(device());
  uint32_t seed = 6000;
  for (const RowCase& c : kRowCases) {
    if (!supports(c.t)) continue;
    SCOPED_TRACE(::testing::Message() << dtype_name(c.t) << " [" << c.rows << ", " << c.D << "]");
    const HostTensor x = random({c.rows, c.D}, c.t, seed++);
    const HostTensor w = random({c.D}, DType::f32, seed++, 0.5, 1.5);
    const HostTensor b = random({c.D}, c.t, seed++);
    Tensor X = upload(s, x, c.t), W = upload(s, w, DType::f32), Bt = upload(s, b, c.t);
    AlignedOutput o1(s, {c.rows, c.D}, c.t);
    ops::rms_norm(s, X, W, o1.tensor(), 1e-5f);
    EXPECT_TRUE(close(o1.result(s), ref::rms_norm(x, w, 1e-5), OpClass::reduction, c.t));
    AlignedOutput o2(s, {c.rows, c.D}, c.t);
    ops::layer_norm(s, X, W, &Bt, o2.tensor(), 1e-5f);
    EXPECT_TRUE(close(o2.result(s), ref::layer_norm(x, w, &b, 1e-5), OpClass::reduction, c.t));
    AlignedOutput io(s, {c.rows, c.D}, c.t);  // in place
    io.set(s, x);
    ops::rms_norm(s, io.tensor(), W, io.tensor(), 1e-5f);
    EXPECT_TRUE(close(io.result(s), ref::rms_norm(x, w, 1e-5), OpClass::reduction, c.t));
  }
}

TEST_P(CudaRowsOps, SoftmaxAtLlmShapesWithBroadcastMask) {
  Stream s(device());
  uint32_t seed = 6100;
  for (const RowCase& c : kRowCases) {
    if (!supports(c.t)) continue;
    SCOPED_TRACE(::testing::Message() << dtype_name(c.t) << " [" << c.rows << ", " << c.D << "]");
    const HostTensor x = random({c.rows, c.D}, c.t, seed++, -4, 4);
    AlignedOutput o(s, {c.rows, c.D}, c.t);
    ops::softmax(s, upload(s, x, c.t), o.tensor(), 0.7f);
    EXPECT_TRUE(close(o.result(s), ref::softmax(x, 0.7, nullptr), OpClass::reduction, c.t));
  }
  // Causal mask [S, S] over [B, H, S, S] with one fully masked row and a NaN row.
  for (DType t : {DType::f32, DType::bf16}) {
    if (!supports(t)) continue;
    const int64_t S = 256;
    HostTensor mask({S, S});
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j)
        mask[i * S + j] = (j > i || i == 7) ? -std::numeric_limits<double>::infinity() : 0.0;
    const HostTensor x = random({2, 4, S, S}, t, seed++, -3, 3);
    AlignedOutput o(s, {2, 4, S, S}, t);
    Tensor M = upload(s, mask, DType::f16);
    ops::softmax(s, upload(s, x, t), o.tensor(), 1.0f, &M);
    EXPECT_TRUE(close(o.result(s), ref::softmax(x, 1.0, &mask), OpClass::reduction, t, false));
  }
}

TEST_P(CudaRowsOps, RopeVectorPath) {
  Stream s(device());
  uint32_t seed = 6200;
  struct RopeCase {
    int64_t B, H, S, D;
    int rot;
  };
  const RopeCase cases[] = {{2, 8, 5, 128, 0}, {1, 32, 1, 128, 0}, {2, 4, 9, 128, 32}, {1, 6, 3, 80, 32}};
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    for (const RopeCase& c : cases)
      for (auto style : {ops::RopeStyle::neox, ops::RopeStyle::gptj}) {
        SCOPED_TRACE(::testing::Message()
                     << dtype_name(t) << " [" << c.B << ", " << c.H << ", " << c.S << ", " << c.D << "] rot "
                     << c.rot << " style " << static_cast<int>(style));
        const HostTensor x = random({c.B, c.H, c.S, c.D}, t, seed++);
        std::vector<int32_t> pos(static_cast<size_t>(c.B * c.S));
        for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>((i * 7919 + 100000) % 131072);
        Tensor P = Tensor::from_host(s, DType::i32, {c.B, c.S}, pos.data());
        AlignedOutput o(s, {c.B, c.H, c.S, c.D}, t);
        ops::RopeOptions opt;
        opt.style = style;
        opt.rotary_dim = c.rot;
        ops::rope(s, upload(s, x, t), P, o.tensor(), opt);
        EXPECT_TRUE(close(o.result(s), ref::rope(x, pos, true, style, 10000.0, c.rot ? c.rot : int(c.D)),
                          OpClass::reduction, t));
      }
  }
}

TEST_P(CudaRowsOps, ArgmaxSplitRowsKeepNanAndFirstTie) {
  Stream s(device());
  uint32_t seed = 6300;
  struct ArgCase {
    DType t;
    int64_t R, C;
  };
  const ArgCase cases[] = {
      {DType::bf16, 1, 128256}, {DType::f32, 3, 50000}, {DType::i32, 2, 70000}, {DType::f16, 64, 32000}};
  for (const ArgCase& c : cases) {
    if (!supports(c.t)) continue;
    SCOPED_TRACE(::testing::Message() << dtype_name(c.t) << " [" << c.R << ", " << c.C << "]");
    HostTensor x = random({c.R, c.C}, c.t, seed++, -100, 100);
    for (int64_t r = 0; r < c.R; ++r) {  // a tie of the maximum in two chunks: the first wins
      x[r * c.C + c.C / 3 + r] = 1000;
      x[r * c.C + c.C - 5] = 1000;
    }
    if (c.t != DType::i32 && c.R > 1) {  // row 1: NaNs late and later; the first NaN wins
      x[c.C + c.C - 100] = std::numeric_limits<double>::quiet_NaN();
      x[c.C + c.C - 2] = std::numeric_limits<double>::quiet_NaN();
    }
    AlignedOutput o(s, {c.R}, DType::i32);
    ops::argmax(s, upload(s, x, c.t), o.tensor());
    const std::vector<int32_t> want = ref::argmax(x);
    HostTensor w({c.R});
    for (int64_t r = 0; r < c.R; ++r) w[r] = want[static_cast<size_t>(r)];
    EXPECT_TRUE(equal(o.result(s), w));
  }
}

TEST_P(CudaRowsOps, ElementwiseBroadcastCopyEmbeddingFill) {
  Stream s(device());
  uint32_t seed = 6400;
  for (DType t : {DType::f32, DType::bf16}) {
    if (!supports(t)) continue;
    SCOPED_TRACE(dtype_name(t));
    const HostTensor a = random({64, 4096}, t, seed++), bias = random({4096}, t, seed++);
    AlignedOutput o(s, {64, 4096}, t);
    ops::add(s, upload(s, a, t), upload(s, bias, t), o.tensor());  // bias [N] over [M, N]
    EXPECT_TRUE(
        close(o.result(s), ref::binary(ref::Binary::add, a, bias, {64, 4096}), OpClass::elementwise, t));
    const HostTensor g = random({7, 11008}, t, seed++, -4, 4), u = random({7, 11008}, t, seed++);
    AlignedOutput o2(s, {7, 11008}, t);
    ops::silu_mul(s, upload(s, g, t), upload(s, u, t), o2.tensor());
    EXPECT_TRUE(
        close(o2.result(s), ref::binary(ref::Binary::silu_mul, g, u, {7, 11008}), OpClass::elementwise, t));
    // Strided copy: [2, 16, 8, 128] storage read as [2, 8, 16, 128] (rows stay contiguous).
    const HostTensor c = random({2, 16, 8, 128}, t, seed++);
    Tensor C = upload(s, c, t).transpose(1, 2);
    AlignedOutput o3(s, {2, 8, 16, 128}, t);
    ops::copy(s, C, o3.tensor());
    HostTensor want({2, 8, 16, 128});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 8; ++h)
        for (int64_t q = 0; q < 16; ++q)
          for (int64_t d = 0; d < 128; ++d)
            want[((b * 8 + h) * 16 + q) * 128 + d] = c[((b * 16 + q) * 8 + h) * 128 + d];
    EXPECT_TRUE(equal(o3.result(s), want));
    // Embedding with out-of-range ids (clamped).
    const HostTensor table = random({1000, 4096}, t, seed++);
    const std::vector<int32_t> ids = {5, -3, 999, 1200, 0, 42};
    AlignedOutput o4(s, {6, 4096}, t);
    ops::embedding(s, upload(s, table, t), Tensor::from_host(s, DType::i32, {6}, ids.data()), o4.tensor());
    EXPECT_TRUE(equal(o4.result(s), ref::embedding(table, ids, {6})));
    // Dense casts to and from the other float dtypes (8 elements a step, n % 8 tail).
    for (DType to : {DType::f32, DType::f16, DType::bf16}) {
      if (to == t || !supports(to)) continue;
      const HostTensor x = random({3, 1001}, t, seed++, -70000, 70000);  // overflows f16 to inf
      AlignedOutput oc(s, {3, 1001}, to);
      ops::cast(s, upload(s, x, t), oc.tensor());
      EXPECT_TRUE(equal(oc.result(s), ref::cast(x, to)));
    }
    // Non-zero fill of a length that leaves a tail past the last 16-byte vector.
    AlignedOutput o5(s, {1003}, t);
    ops::fill(s, o5.tensor(), 1.5);
    HostTensor ones({1003});
    for (int64_t i = 0; i < 1003; ++i) ones[i] = 1.5;
    EXPECT_TRUE(equal(o5.result(s), ones));
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaRowsOps);
PORTA_INSTANTIATE_ON_DEVICES(CudaRowsOps);

}  // namespace
}  // namespace porta::test
