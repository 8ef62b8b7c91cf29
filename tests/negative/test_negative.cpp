// Bad input: every case must throw porta::Error with the right Errc and a message naming
// the op and the shapes, must not disturb other tensors, and must leave the device usable.
// main() asks for two logical cpu devices so tensors can live on different devices.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "porta/quant.h"

namespace porta {
namespace {

class Negative : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = Device::select("cpu:0");
    stream_ = std::make_unique<Stream>(dev_);
    witness_host_ = {1.5f, -2.0f, 3.25f, 4.0f};
    witness_ = Tensor::from_host(*stream_, DType::f32, {4}, witness_host_.data());
  }

  /// Runs fn, which must throw Errc `code` with every substring in `parts` in its message;
  /// then checks the witness tensor and that the device still computes correctly.
  void expect_error(Errc code, std::vector<std::string> parts, const std::function<void()>& fn) {
    try {
      fn();
      ADD_FAILURE() << "no porta::Error thrown; expected " << to_string(code);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      for (const auto& p : parts)
        EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
    }
    std::vector<float> back(4);
    witness_.copy_to_host(*stream_, back.data());
    EXPECT_EQ(back, witness_host_) << "a failed call changed an unrelated tensor";
    Tensor sum = Tensor::empty(dev_, DType::f32, {4});
    ops::add(*stream_, witness_, witness_, sum);
    sum.copy_to_host(*stream_, back.data());
    for (size_t i = 0; i < 4; ++i)
      EXPECT_EQ(back[i], 2 * witness_host_[i]) << "device unusable after the error";
  }

  Tensor t(DType d, Shape s) { return Tensor::empty(dev_, d, s); }
  Stream& s() { return *stream_; }

  Device dev_;
  std::unique_ptr<Stream> stream_;
  std::vector<float> witness_host_;
  Tensor witness_;
};

// ---- tensors and views ----
// Zero extents are legal (engines meet empty steps); what an empty operand cannot mean is refused.
TEST_F(Negative, ZeroExtentOperandsWithoutMeaning) {
  auto c = t(DType::f32, {4, 6});
  expect_error(Errc::shape_mismatch, {"gemm", "K = 0"}, [&] { ops::gemm(s(), t(DType::f32, {4, 0}), t(DType::f32, {0, 6}), c); });
  auto idx = t(DType::i32, {4});
  expect_error(Errc::shape_mismatch, {"argmax", "f32[4, 0]"}, [&] { ops::argmax(s(), t(DType::f32, {4, 0}), idx); });
  auto rows = t(DType::f32, {3, 8});
  expect_error(Errc::shape_mismatch, {"embedding", "f32[0, 8]"},
               [&] { ops::embedding(s(), t(DType::f32, {0, 8}), t(DType::i32, {3}), rows); });
  auto o = t(DType::f32, {1, 2, 3, 64});
  expect_error(Errc::shape_mismatch, {"attention", "Skv = 0"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::f32, {1, 2, 0, 64}), t(DType::f32, {1, 2, 0, 64}), o);
  });
}
TEST_F(Negative, NegativeExtent) {
  expect_error(Errc::invalid_argument, {"Tensor::empty", "-3"}, [&] { t(DType::f32, {-3}); });
}
TEST_F(Negative, RankFive) {
  expect_error(Errc::invalid_argument, {"rank 5"}, [&] { Shape x{1, 2, 3, 4, 5}; });
}
TEST_F(Negative, RankZero) {
  expect_error(Errc::invalid_argument, {"rank 0"}, [&] { t(DType::f32, Shape{}); });
}
TEST_F(Negative, OverflowingSize) {
  expect_error(Errc::invalid_argument, {"overflow"}, [&] {
    t(DType::f32, {int64_t(1) << 40, int64_t(1) << 40});
  });
}
TEST_F(Negative, LargerThanDeviceMemory) {
  expect_error(Errc::out_of_memory, {"Tensor::empty", "bytes"}, [&] { t(DType::f32, {int64_t(1) << 40}); });
}
TEST_F(Negative, SliceOutOfRange) {
  expect_error(Errc::invalid_argument, {"Tensor::slice", "f32[4, 5]"}, [&] {
    t(DType::f32, {4, 5}).slice(1, 2, 9);
  });
}
TEST_F(Negative, TransposeBadDim) {
  expect_error(Errc::invalid_argument, {"Tensor::transpose"}, [&] { t(DType::f32, {4, 5}).transpose(0, 2); });
}
TEST_F(Negative, ReshapeWrongCount) {
  expect_error(Errc::shape_mismatch, {"Tensor::reshape", "[3, 3]"}, [&] {
    t(DType::f32, {4, 5}).reshape({3, 3});
  });
}
TEST_F(Negative, ReshapeNonContiguous) {
  expect_error(Errc::invalid_argument, {"without a copy"}, [&] {
    t(DType::f32, {4, 5}).transpose(0, 1).reshape({20});
  });
}
TEST_F(Negative, ViewPastBuffer) {
  expect_error(Errc::invalid_argument, {"Tensor::view"}, [&] {
    t(DType::f32, {10}).view({4, 4}, {4, 1}, 0);
  });
}

// ---- gemm ----
TEST_F(Negative, GemmInnerDimMismatch) {
  auto c = t(DType::f32, {4, 6});
  expect_error(Errc::shape_mismatch, {"gemm", "[4, 5]", "[4, 6]"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), t(DType::f32, {4, 6}), c);
  });
}
TEST_F(Negative, GemmOutputShape) {
  auto c = t(DType::f32, {4, 7});
  expect_error(Errc::shape_mismatch, {"gemm", "C f32[4, 7]"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), t(DType::f32, {5, 6}), c);
  });
}
TEST_F(Negative, GemmIntegerInput) {
  auto c = t(DType::f32, {4, 6});
  expect_error(Errc::dtype_mismatch, {"gemm", "i8[4, 5]"}, [&] {
    ops::gemm(s(), t(DType::i8, {4, 5}), t(DType::f32, {5, 6}), c);
  });
}
TEST_F(Negative, GemmRankOne) {
  auto c = t(DType::f32, {4, 6});
  expect_error(Errc::shape_mismatch, {"gemm", "rank 1"}, [&] {
    ops::gemm(s(), t(DType::f32, {5}), t(DType::f32, {5, 6}), c);
  });
}
TEST_F(Negative, GemmOutputAliasesInput) {
  auto big = t(DType::f32, {8, 8});
  auto a = big.slice(0, 0, 4), c = big.slice(0, 2, 6);
  expect_error(Errc::invalid_argument, {"gemm", "overlaps"}, [&] {
    ops::gemm(s(), a, t(DType::f32, {8, 8}), c);
  });
}
TEST_F(Negative, GemmBiasLength) {
  auto c = t(DType::f32, {4, 6});
  auto bias = t(DType::f32, {5});
  ops::GemmOptions o;
  o.bias = &bias;
  expect_error(Errc::shape_mismatch, {"gemm", "bias f32[5]"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), t(DType::f32, {5, 6}), c, o);
  });
}
TEST_F(Negative, GemmNonFiniteAlpha) {
  auto c = t(DType::f32, {4, 6});
  ops::GemmOptions o;
  o.alpha = NAN;
  expect_error(Errc::invalid_argument, {"gemm", "alpha"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), t(DType::f32, {5, 6}), c, o);
  });
}
TEST_F(Negative, TensorsOnDifferentDevices) {
  auto other = Device::select("cpu:1");
  auto c = t(DType::f32, {4, 6});
  expect_error(Errc::device_mismatch, {"gemm", "cpu:1"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), Tensor::empty(other, DType::f32, {5, 6}), c);
  });
}

// ---- attention ----
TEST_F(Negative, AttentionHeadsNotMultiple) {
  auto o = t(DType::f32, {1, 6, 4, 64});
  expect_error(Errc::shape_mismatch, {"attention", "multiple"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 6, 4, 64}), t(DType::f32, {1, 4, 8, 64}),
                   t(DType::f32, {1, 4, 8, 64}), o);
  });
}
TEST_F(Negative, AttentionUnsupportedHeadDim) {
  auto o = t(DType::f32, {1, 2, 4, 72});
  expect_error(Errc::unsupported, {"attention", "72", "64, 80, 96, 128, 256"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 2, 4, 72}), t(DType::f32, {1, 2, 8, 72}),
                   t(DType::f32, {1, 2, 8, 72}), o);
  });
}
TEST_F(Negative, AttentionDtypeMismatch) {
  auto o = t(DType::f32, {1, 2, 4, 64});
  expect_error(Errc::dtype_mismatch, {"attention", "f16"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 2, 4, 64}), t(DType::f16, {1, 2, 8, 64}),
                   t(DType::f16, {1, 2, 8, 64}), o);
  });
}
TEST_F(Negative, AttentionKvLensDtype) {
  auto o = t(DType::f32, {2, 2, 4, 64});
  auto lens = t(DType::f32, {2});
  ops::AttentionOptions opt;
  opt.kv_lens = &lens;
  expect_error(Errc::dtype_mismatch, {"attention", "kv_lens"}, [&] {
    ops::attention(s(), t(DType::f32, {2, 2, 4, 64}), t(DType::f32, {2, 2, 8, 64}),
                   t(DType::f32, {2, 2, 8, 64}), o, opt);
  });
}
TEST_F(Negative, AttentionKvLensLength) {
  auto o = t(DType::f32, {2, 2, 4, 64});
  auto lens = t(DType::i32, {3});
  ops::AttentionOptions opt;
  opt.kv_lens = &lens;
  expect_error(Errc::shape_mismatch, {"attention", "kv_lens i32[3]"}, [&] {
    ops::attention(s(), t(DType::f32, {2, 2, 4, 64}), t(DType::f32, {2, 2, 8, 64}),
                   t(DType::f32, {2, 2, 8, 64}), o, opt);
  });
}
TEST_F(Negative, AttentionWrongRank) {
  auto o = t(DType::f32, {2, 4, 64});
  expect_error(Errc::shape_mismatch, {"attention", "rank 3"}, [&] {
    ops::attention(s(), t(DType::f32, {2, 4, 64}), t(DType::f32, {2, 8, 64}), t(DType::f32, {2, 8, 64}), o);
  });
}

// ---- other ops ----
TEST_F(Negative, RmsNormWeightLength) {
  auto o = t(DType::f32, {3, 8});
  expect_error(Errc::shape_mismatch, {"rms_norm", "weight f32[7]"}, [&] {
    ops::rms_norm(s(), t(DType::f32, {3, 8}), t(DType::f32, {7}), o);
  });
}
TEST_F(Negative, RopeOddRotaryDim) {
  auto o = t(DType::f32, {1, 2, 3, 64});
  ops::RopeOptions opt;
  opt.rotary_dim = 7;
  expect_error(Errc::invalid_argument, {"rope", "rotary_dim 7"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::i32, {3}), o, opt);
  });
}
TEST_F(Negative, RopeFreqFactors) {
  auto o = t(DType::f32, {1, 2, 3, 64});
  ops::RopeOptions opt;
  opt.freq_factors.assign(31, 1.0f);
  expect_error(Errc::invalid_argument, {"rope", "freq_factors has 31 entries", "rotary_dim/2 = 32"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::i32, {3}), o, opt);
  });
  opt.freq_factors.assign(32, 1.0f);
  opt.freq_factors[5] = 0.0f;
  expect_error(Errc::invalid_argument, {"rope", "freq_factors must be positive"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::i32, {3}), o, opt);
  });
}
TEST_F(Negative, RopePositionsShape) {
  auto o = t(DType::f32, {1, 2, 3, 64});
  expect_error(Errc::shape_mismatch, {"rope", "positions i32[4]"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::i32, {4}), o);
  });
}
TEST_F(Negative, SoftmaxMaskNotBroadcastable) {
  auto o = t(DType::f32, {4, 8});
  auto mask = t(DType::f32, {3, 8});
  expect_error(Errc::shape_mismatch, {"softmax", "mask f32[3, 8]"}, [&] {
    ops::softmax(s(), t(DType::f32, {4, 8}), o, 1.0f, &mask);
  });
}
TEST_F(Negative, AddNotBroadcastable) {
  auto o = t(DType::f32, {4, 8});
  expect_error(Errc::shape_mismatch, {"add", "[4, 7]"}, [&] {
    ops::add(s(), t(DType::f32, {4, 8}), t(DType::f32, {4, 7}), o);
  });
}
TEST_F(Negative, AddDtypeMismatch) {
  auto o = t(DType::f32, {4, 8});
  expect_error(Errc::dtype_mismatch, {"add", "bf16"}, [&] {
    ops::add(s(), t(DType::f32, {4, 8}), t(DType::bf16, {4, 8}), o);
  });
}
TEST_F(Negative, ArgmaxOutputDtype) {
  auto o = t(DType::f32, {4});
  expect_error(Errc::dtype_mismatch, {"argmax", "i32"}, [&] { ops::argmax(s(), t(DType::f32, {4, 8}), o); });
}
TEST_F(Negative, EmbeddingIdsDtype) {
  auto o = t(DType::f32, {5, 16});
  expect_error(Errc::dtype_mismatch, {"embedding", "ids"}, [&] {
    ops::embedding(s(), t(DType::f32, {10, 16}), t(DType::f32, {5}), o);
  });
}
TEST_F(Negative, CopyDtypeMismatch) {
  auto o = t(DType::f16, {4, 8});
  expect_error(Errc::dtype_mismatch, {"copy", "f16[4, 8]"}, [&] {
    ops::copy(s(), t(DType::f32, {4, 8}), o);
  });
}
TEST_F(Negative, CopyShapeMismatch) {
  auto o = t(DType::f32, {8, 4});
  expect_error(Errc::shape_mismatch, {"copy", "[8, 4]"}, [&] { ops::copy(s(), t(DType::f32, {4, 8}), o); });
}
TEST_F(Negative, BroadcastOutput) {
  auto base = t(DType::f32, {8});
  auto o = base.view({4, 8}, {0, 1}, 0);
  expect_error(Errc::invalid_argument, {"fill", "stride 0"}, [&] { ops::fill(s(), o, 1.0); });
}
TEST_F(Negative, FillIntegerWithNaN) {
  auto o = t(DType::i32, {4});
  expect_error(Errc::invalid_argument, {"fill", "i32[4]"}, [&] { ops::fill(s(), o, NAN); });
}
TEST_F(Negative, UndefinedTensor) {
  Tensor none;
  expect_error(Errc::invalid_argument, {"scale", "undefined"}, [&] { ops::scale(s(), none, 2.0f, none); });
}
TEST_F(Negative, EventNeverRecorded) {
  Event e(dev_);
  expect_error(Errc::invalid_argument, {"never recorded"}, [&] { s().wait(e); });
}

// ---- more views, sizes and recovery ----
TEST_F(Negative, ElementCountFitsButBytesOverflow) {
  // 2^62 elements fit int64, 2^64 bytes do not: must be invalid_argument, not a wrapped size.
  expect_error(Errc::invalid_argument, {"Tensor::empty", "overflow"}, [&] {
    t(DType::f32, {int64_t(1) << 31, int64_t(1) << 31});
  });
}
TEST_F(Negative, OutOfMemoryLeavesAccountingUnchanged) {
  const uint64_t before = dev_.allocated_bytes();
  expect_error(Errc::out_of_memory, {"Tensor::empty"}, [&] { t(DType::i8, {int64_t(1) << 50}); });
  EXPECT_EQ(dev_.allocated_bytes(), before);
}
TEST_F(Negative, SliceStepZero) {
  expect_error(Errc::invalid_argument, {"Tensor::slice", "step 0"},
               [&] { t(DType::f32, {8}).slice(0, 0, 8, 0); });
}
TEST_F(Negative, ViewNegativeStride) {
  expect_error(Errc::invalid_argument, {"Tensor::view", "negative stride"},
               [&] { t(DType::f32, {8}).view({4}, {-1}, 12); });
}
TEST_F(Negative, ViewMisalignedOffset) {
  expect_error(Errc::invalid_argument, {"Tensor::view", "offset 2"},
               [&] { t(DType::f32, {8}).view({4}, {1}, 2); });
}
TEST_F(Negative, FromHostNullPointer) {
  expect_error(Errc::invalid_argument, {"copy_from_host", "null"},
               [&] { Tensor::from_host(s(), DType::f32, {4}, nullptr); });
}
TEST_F(Negative, UploadThroughStreamOfOtherDevice) {
  Stream other(Device::select("cpu:1"));
  std::vector<float> host(4, 1.0f);
  expect_error(Errc::device_mismatch, {"copy_from_host", "cpu:1"},
               [&] { t(DType::f32, {4}).copy_from_host(other, host.data()); });
}
TEST_F(Negative, OpOnStreamOfOtherDevice) {
  Stream other(Device::select("cpu:1"));
  auto o = t(DType::f32, {4});
  expect_error(Errc::device_mismatch, {"scale", "cpu:0", "cpu:1"},
               [&] { ops::scale(other, witness_, 2.0f, o); });
}
TEST_F(Negative, CopyAcrossDevices) {
  auto dst = Tensor::empty(Device::select("cpu:1"), DType::f32, {4});
  expect_error(Errc::device_mismatch, {"copy", "cpu:1"}, [&] { ops::copy(s(), witness_, dst); });
}
TEST_F(Negative, EventOfOtherDevice) {
  Event e(Device::select("cpu:1"));
  expect_error(Errc::device_mismatch, {"Stream::record", "cpu:1"}, [&] { s().record(e); });
}
TEST_F(Negative, MovedFromStream) {
  Stream moved(dev_);
  Stream keep(std::move(moved));
  auto o = t(DType::f32, {4});
  expect_error(Errc::invalid_argument, {"scale", "moved"}, [&] { ops::scale(moved, witness_, 2.0f, o); });
}

// ---- more op rules ----
TEST_F(Negative, ElementwiseOutputPartiallyOverlapsInput) {
  auto buf = t(DType::f32, {16});
  auto x = buf.slice(0, 0, 10), out = buf.slice(0, 5, 15);
  expect_error(Errc::invalid_argument, {"gelu", "overlaps", "f32[10]"}, [&] { ops::gelu(s(), x, out); });
}
TEST_F(Negative, AddOutputIsBroadcastRowOfInput) {
  auto out = t(DType::f32, {4, 8});
  auto row = out.slice(0, 0, 1);  // [1, 8] inside out: read while other rows are written
  expect_error(Errc::invalid_argument, {"add", "overlaps"}, [&] {
    ops::add(s(), row, t(DType::f32, {4, 8}), out);
  });
}
TEST_F(Negative, NormOutputOverlapsWeight) {
  auto buf = t(DType::f32, {2, 8});
  auto w = buf.slice(0, 1, 2).reshape({8});
  auto x = t(DType::f32, {2, 8});
  expect_error(Errc::invalid_argument, {"rms_norm", "weight"}, [&] { ops::rms_norm(s(), x, w, buf); });
}
TEST_F(Negative, GemmBatchNotBroadcastable) {
  auto c = t(DType::f32, {3, 4, 6});
  expect_error(Errc::shape_mismatch, {"gemm", "f32[2, 4, 5]"}, [&] {
    ops::gemm(s(), t(DType::f32, {2, 4, 5}), t(DType::f32, {3, 5, 6}), c);
  });
}
TEST_F(Negative, GemmIntegerOutput) {
  auto c = t(DType::i32, {4, 6});
  expect_error(Errc::dtype_mismatch, {"gemm", "C i32[4, 6]"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), t(DType::f32, {5, 6}), c);
  });
}
TEST_F(Negative, GemmTransposeFlagMakesKMismatch) {
  auto c = t(DType::f32, {4, 6});
  ops::GemmOptions o;
  o.trans_b = true;  // B [5, 6] read as [6, 5]: K = 5 vs 6
  expect_error(Errc::shape_mismatch, {"gemm", "K = 5", "trans"}, [&] {
    ops::gemm(s(), t(DType::f32, {4, 5}), t(DType::f32, {5, 6}), c, o);
  });
}
TEST_F(Negative, AttentionValueShapeDiffersFromKey) {
  auto o = t(DType::f32, {1, 2, 4, 64});
  expect_error(Errc::shape_mismatch, {"attention", "v f32[1, 2, 9, 64]"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 2, 4, 64}), t(DType::f32, {1, 2, 8, 64}),
                   t(DType::f32, {1, 2, 9, 64}), o);
  });
}
TEST_F(Negative, AttentionOutputShape) {
  auto o = t(DType::f32, {1, 2, 5, 64});
  expect_error(Errc::shape_mismatch, {"attention", "out f32[1, 2, 5, 64]"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 2, 4, 64}), t(DType::f32, {1, 2, 8, 64}),
                   t(DType::f32, {1, 2, 8, 64}), o);
  });
}
TEST_F(Negative, AttentionInfiniteScale) {
  auto o = t(DType::f32, {1, 2, 4, 64});
  ops::AttentionOptions opt;
  opt.scale = INFINITY;
  expect_error(Errc::invalid_argument, {"attention", "scale"}, [&] {
    ops::attention(s(), t(DType::f32, {1, 2, 4, 64}), t(DType::f32, {1, 2, 8, 64}),
                   t(DType::f32, {1, 2, 8, 64}), o, opt);
  });
}
TEST_F(Negative, AttentionOutputAliasesQuery) {
  auto q = t(DType::f32, {1, 2, 4, 64});
  expect_error(Errc::invalid_argument, {"attention", "overlaps"}, [&] {
    ops::attention(s(), q, t(DType::f32, {1, 2, 8, 64}), t(DType::f32, {1, 2, 8, 64}), q);
  });
}
TEST_F(Negative, LayerNormBiasLength) {
  auto o = t(DType::f32, {3, 8});
  auto bias = t(DType::f32, {9});
  expect_error(Errc::shape_mismatch, {"layer_norm", "bias f32[9]"}, [&] {
    ops::layer_norm(s(), t(DType::f32, {3, 8}), t(DType::f32, {8}), &bias, o);
  });
}
TEST_F(Negative, NormNegativeEps) {
  auto o = t(DType::f32, {3, 8});
  expect_error(Errc::invalid_argument, {"rms_norm", "eps"}, [&] {
    ops::rms_norm(s(), t(DType::f32, {3, 8}), t(DType::f32, {8}), o, -1.0f);
  });
}
TEST_F(Negative, RopeRotaryDimPastHeadDim) {
  auto o = t(DType::f32, {1, 2, 3, 64});
  ops::RopeOptions opt;
  opt.rotary_dim = 66;
  expect_error(Errc::invalid_argument, {"rope", "rotary_dim 66", "f32[1, 2, 3, 64]"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::i32, {3}), o, opt);
  });
}
TEST_F(Negative, RopePositionsDtype) {
  auto o = t(DType::f32, {1, 2, 3, 64});
  expect_error(Errc::dtype_mismatch, {"rope", "positions f32[3]", "i32"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::f32, {3}), o);
  });
}
TEST_F(Negative, RopeRankTwo) {
  auto o = t(DType::f32, {3, 64});
  expect_error(Errc::shape_mismatch, {"rope", "rank 2"}, [&] {
    ops::rope(s(), t(DType::f32, {3, 64}), t(DType::i32, {3}), o);
  });
}
TEST_F(Negative, RopePackedPositionsPerToken) {  // rank 3 is packed tokens [T, H, D]: positions [T]
  auto o = t(DType::f32, {2, 3, 64});
  expect_error(Errc::shape_mismatch, {"rope", "positions i32[3]", "i32[2]"}, [&] {
    ops::rope(s(), t(DType::f32, {2, 3, 64}), t(DType::i32, {3}), o);
  });
}
TEST_F(Negative, RopeNonPositiveTheta) {
  auto o = t(DType::f32, {1, 2, 3, 64});
  ops::RopeOptions opt;
  opt.theta = 0.0f;
  expect_error(Errc::invalid_argument, {"rope", "theta"}, [&] {
    ops::rope(s(), t(DType::f32, {1, 2, 3, 64}), t(DType::i32, {3}), o, opt);
  });
}
TEST_F(Negative, SoftmaxIntegerMask) {
  auto o = t(DType::f32, {4, 8});
  auto mask = t(DType::i32, {4, 8});
  expect_error(Errc::dtype_mismatch, {"softmax", "mask i32[4, 8]"}, [&] {
    ops::softmax(s(), t(DType::f32, {4, 8}), o, 1.0f, &mask);
  });
}
TEST_F(Negative, GeluOnIntegers) {
  auto o = t(DType::i32, {4});
  expect_error(Errc::dtype_mismatch, {"gelu", "i32[4]"}, [&] { ops::gelu(s(), t(DType::i32, {4}), o); });
}
TEST_F(Negative, ScaleInfiniteAlpha) {
  auto o = t(DType::f32, {4});
  expect_error(Errc::invalid_argument, {"scale", "alpha"}, [&] { ops::scale(s(), witness_, INFINITY, o); });
}
TEST_F(Negative, CastShapeMismatch) {
  auto o = t(DType::i8, {5});
  expect_error(Errc::shape_mismatch, {"cast", "i8[5]"}, [&] { ops::cast(s(), witness_, o); });
}
TEST_F(Negative, EmbeddingTableRank) {
  auto o = t(DType::f32, {5, 16});
  expect_error(Errc::shape_mismatch, {"embedding", "table f32[10, 16, 2]"}, [&] {
    ops::embedding(s(), t(DType::f32, {10, 16, 2}), t(DType::i32, {5}), o);
  });
}
TEST_F(Negative, EmbeddingOutputShape) {
  auto o = t(DType::f32, {5, 15});
  expect_error(Errc::shape_mismatch, {"embedding", "out f32[5, 15]", "[5, 16]"}, [&] {
    ops::embedding(s(), t(DType::f32, {10, 16}), t(DType::i32, {5}), o);
  });
}
TEST_F(Negative, ArgmaxOutputShape) {
  auto o = t(DType::i32, {3});
  expect_error(Errc::shape_mismatch, {"argmax", "i32[3]", "f32[4, 8]"}, [&] {
    ops::argmax(s(), t(DType::f32, {4, 8}), o);
  });
}

// ---- device selection ----
TEST_F(Negative, MalformedDeviceSpecs) {
  for (const char* spec : {"nonsense", "cuda:", "cpu:-1", "cpu:name=", "vulkan:uuid=", "cpu,,cpu", "cpu:0:1",
                           "CPU", "tpu:0", "cpu:", ",cpu", "cpu,", " cpu"})
    expect_error(Errc::invalid_argument, {spec, "cpu:0"}, [&] { Device::select(spec); });
}
TEST_F(Negative, DeviceSpecsMatchingNothing) {
  for (const char* spec : {"cpu:7", "vulkan:uuid=ff", "cuda"})
    expect_error(Errc::backend_unavailable, {spec, "cpu:0", "cpu:1"}, [&] { Device::select(spec); });
}
TEST_F(Negative, ValidDeviceSpecs) {
  EXPECT_EQ(Device::select("auto").info().backend, "cpu");
  EXPECT_EQ(Device::select("cpu:1").info().index, 1);
  // A preference list picks the first backend that has a device (lavapipe and PoCL are
  // devices here when their drivers are installed: named, software devices are chosen).
  auto first_of = [](std::initializer_list<const char*> backends) {
    for (const char* b : backends)
      for (const Device& d : porta::devices())
        if (d.info().backend == b) return d;
    return Device();
  };
  EXPECT_EQ(Device::select("vulkan,opencl,cpu"), first_of({"vulkan", "opencl", "cpu"}));
  const std::string word = dev_.info().name.substr(0, 3);
  EXPECT_EQ(Device::select("cpu:name=" + word).info().backend, "cpu");
  EXPECT_EQ(Device::select("cpu:0"), dev_);
  EXPECT_EQ(Device::select("vulkan,cpu"), first_of({"vulkan", "cpu"}));
  // An empty spec means PORTA_DEVICE, or auto when it is unset.
  const char* env = std::getenv("PORTA_DEVICE");
  EXPECT_EQ(Device::select(""), Device::select(env && *env ? env : "auto"));
}

// ---- quantized weights ----
QuantHostWeight host_int4(int64_t n, int64_t k, int group) {
  QuantHostWeight h;
  h.scheme = {QuantFormat::int4, group, DType::f16};
  h.n = n;
  h.k = k;
  h.codes.assign(static_cast<size_t>(n * ((k + 1) / 2)), 0x98);
  h.scales.assign(static_cast<size_t>(n * h.scheme.groups(k)), 0.5f);
  return h;
}
TEST_F(Negative, QuantGroupDoesNotDivideK) {
  expect_error(Errc::shape_mismatch, {"QuantWeight::from_host", "group 32 does not divide K = 40"},
               [&] { QuantWeight::from_host(s(), host_int4(4, 40, 32)); });
}
TEST_F(Negative, QuantBadGroup) {
  expect_error(Errc::invalid_argument, {"group 48", "32, 64, 128"},
               [&] { QuantWeight::from_host(s(), host_int4(4, 96, 48)); });
  expect_error(Errc::invalid_argument, {"kPerTensor", "int4"},
               [&] { QuantWeight::from_host(s(), host_int4(4, 96, QuantScheme::kPerTensor)); });
}
TEST_F(Negative, QuantScalesOfWrongShape) {
  QuantHostWeight h = host_int4(4, 64, 32);
  h.scales.pop_back();
  expect_error(Errc::shape_mismatch, {"QuantWeight::from_host", "7 scales, expected 8"},
               [&] { QuantWeight::from_host(s(), h); });
  Tensor codes = t(DType::i8, {4, 32});
  expect_error(Errc::shape_mismatch, {"QuantWeight", "scales f16[4, 3]", "[4, 2]"}, [&] {
    QuantWeight({QuantFormat::int4, 32, DType::f16}, 4, 64, codes, t(DType::f16, {4, 3}));
  });
}
TEST_F(Negative, QuantScalesOrZerosOfWrongDtype) {
  Tensor codes = t(DType::i8, {4, 32});
  expect_error(Errc::dtype_mismatch, {"QuantWeight", "scales f32[4, 2]", "f16"}, [&] {
    QuantWeight({QuantFormat::int4, 32, DType::f16}, 4, 64, codes, t(DType::f32, {4, 2}));
  });
  expect_error(Errc::shape_mismatch, {"QuantWeight", "zeros i32[4, 2]", "f16 [4, 2]"}, [&] {
    QuantWeight({QuantFormat::int4_zp, 32, DType::f16}, 4, 64, codes, t(DType::f16, {4, 2}), t(DType::i32, {4, 2}));
  });
  expect_error(Errc::invalid_argument, {"QuantWeight", "needs zero points"}, [&] {
    QuantWeight({QuantFormat::int4_zp, 32, DType::f16}, 4, 64, codes, t(DType::f16, {4, 2}));
  });
}
TEST_F(Negative, QuantCodesOfWrongShape) {
  expect_error(Errc::shape_mismatch, {"QuantWeight", "codes i8[4, 64]", "[4, 32]"}, [&] {
    QuantWeight({QuantFormat::int4, 32, DType::f16}, 4, 64, t(DType::i8, {4, 64}), t(DType::f16, {4, 2}));
  });
}
TEST_F(Negative, QuantSliceKOffGroupBoundary) {
  QuantWeight w = QuantWeight::from_host(s(), host_int4(4, 128, 32));
  expect_error(Errc::invalid_argument, {"slice_k", "[16, 64)", "multiples of 32"}, [&] { w.slice_k(16, 64); });
  QuantHostWeight h = host_int4(4, 64, 32);
  h.perm.resize(64);
  for (int i = 0; i < 64; ++i) h.perm[static_cast<size_t>(i)] = 63 - i;
  QuantWeight p = QuantWeight::from_host(s(), h);
  expect_error(Errc::invalid_argument, {"slice_k", "permutation"}, [&] { p.slice_k(0, 32); });
}
TEST_F(Negative, QuantBadPermutation) {
  QuantHostWeight h = host_int4(4, 64, 32);
  h.perm.assign(64, 0);
  expect_error(Errc::invalid_argument, {"from_host", "not a permutation"}, [&] { QuantWeight::from_host(s(), h); });
}
TEST_F(Negative, QuantGemmShapes) {
  QuantWeight w = QuantWeight::from_host(s(), host_int4(8, 64, 32));
  auto c = t(DType::f32, {2, 8});
  expect_error(Errc::shape_mismatch, {"gemm", "A f32[2, 32]", "K = 64"}, [&] {
    ops::gemm(s(), t(DType::f32, {2, 32}), w, c);
  });
  auto c_bad = t(DType::f32, {2, 9});
  expect_error(Errc::shape_mismatch, {"gemm", "C must be [2, 8]"}, [&] {
    ops::gemm(s(), t(DType::f32, {2, 64}), w, c_bad);
  });
  expect_error(Errc::dtype_mismatch, {"gemm", "A i32[2, 64]"}, [&] {
    ops::gemm(s(), t(DType::i32, {2, 64}), w, c);
  });
}
TEST_F(Negative, QuantWeightWhereDenseIsRequired) {
  // The codes of a quantized weight are not a dense B: the message points at the quantized overload.
  QuantWeight w = QuantWeight::from_host(s(), host_int4(8, 64, 32));
  auto c = t(DType::f32, {2, 32});
  expect_error(Errc::dtype_mismatch, {"gemm", "i8[8, 32]", "QuantWeight"}, [&] {
    ops::gemm(s(), t(DType::f32, {2, 8}), w.codes(), c);
  });
}
TEST_F(Negative, QuantWeightOnOtherDevice) {
  Device other = Device::select("cpu:1");
  Stream so(other);
  QuantWeight w = QuantWeight::from_host(so, host_int4(8, 64, 32));
  auto c = t(DType::f32, {2, 8});
  expect_error(Errc::device_mismatch, {"gemm", "W int4 g32", "cpu:1"}, [&] {
    ops::gemm(s(), t(DType::f32, {2, 64}), w, c);
  });
}
TEST_F(Negative, QuantizeIntoWrongShape) {
  QuantWeight w = QuantWeight::empty(dev_, {QuantFormat::int8, 32, DType::f16}, 4, 64);
  expect_error(Errc::shape_mismatch, {"quantize", "w f32[4, 32]", "[4, 32]"}, [&] {
    ops::quantize(s(), t(DType::f32, {4, 32}), w);
  });
}
TEST_F(Negative, QuantEmbeddingShapes) {
  QuantWeight table = QuantWeight::from_host(s(), host_int4(10, 64, 32));
  Tensor ids = t(DType::i32, {3});
  auto out = t(DType::f32, {3, 32});
  expect_error(Errc::shape_mismatch, {"embedding", "out f32[3, 32]", "[3, 64]"}, [&] {
    ops::embedding(s(), table, ids, out);
  });
}
TEST_F(Negative, QuantUndefinedWeight) {
  auto c = t(DType::f32, {2, 8});
  expect_error(Errc::invalid_argument, {"gemm", "undefined quantized weight"}, [&] {
    ops::gemm(s(), t(DType::f32, {2, 64}), QuantWeight(), c);
  });
}

}  // namespace
}  // namespace porta

int main(int argc, char** argv) {
  setenv("PORTA_CPU_DEVICES", "2", 1);  // before porta discovers devices
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
