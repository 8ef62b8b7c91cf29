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
TEST_F(Negative, ZeroExtent) {
  expect_error(Errc::invalid_argument, {"Tensor::empty", "[4, 0]"}, [&] { t(DType::f32, {4, 0}); });
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
  expect_error(Errc::invalid_argument, {"not contiguous"}, [&] {
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

// ---- device selection ----
TEST_F(Negative, MalformedDeviceSpecs) {
  for (const char* spec : {"nonsense", "cuda:", "cpu:-1", "cpu:name=", "cpu,,cpu", "cpu:0:1", "CPU"})
    expect_error(Errc::invalid_argument, {spec, "cpu:0"}, [&] { Device::select(spec); });
}
TEST_F(Negative, DeviceSpecsMatchingNothing) {
  for (const char* spec : {"cpu:7", "vulkan:uuid=ff", "cuda"})
    expect_error(Errc::backend_unavailable, {spec, "cpu:0", "cpu:1"}, [&] { Device::select(spec); });
}
TEST_F(Negative, ValidDeviceSpecs) {
  EXPECT_EQ(Device::select("auto").info().backend, "cpu");
  EXPECT_EQ(Device::select("cpu:1").info().index, 1);
  EXPECT_EQ(Device::select("vulkan,opencl,cpu").info().backend, "cpu");
  const std::string word = dev_.info().name.substr(0, 3);
  EXPECT_EQ(Device::select("cpu:name=" + word).info().backend, "cpu");
}

}  // namespace
}  // namespace porta

int main(int argc, char** argv) {
  setenv("PORTA_CPU_DEVICES", "2", 1);  // before porta discovers devices
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
