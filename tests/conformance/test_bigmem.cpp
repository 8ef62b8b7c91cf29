// 64-bit indexing: a tensor of more than 2^31 elements on the cpu (about 2.1 GB).
#include <gtest/gtest.h>

#include <vector>

#include "porta/porta.h"

namespace porta {
namespace {

TEST(BigTensor, FillCopyAndAddPast2To31Elements) {
  auto dev = Device::select("cpu");
  Stream s(dev);
  const int64_t n = (int64_t(1) << 31) + (int64_t(1) << 18);
  Tensor big = Tensor::empty(dev, DType::i8, {n});
  ops::fill(s, big, 5.0);
  // The last 96 elements straddle nothing below 2^31: reading them needs 64-bit offsets.
  Tensor tail = big.slice(0, n - 96, n);
  Tensor small = Tensor::empty(dev, DType::i8, {96});
  ops::copy(s, tail, small);
  std::vector<int8_t> host(96);
  small.copy_to_host(s, host.data());
  for (int8_t v : host) ASSERT_EQ(v, 5);
  // A 2-D view whose rows cross the 2^31 boundary, cast to f32 (strided read, 64-bit math).
  const int64_t row = 1 << 16;
  Tensor rows = big.view({4, row}, {row, 1}, (int64_t(1) << 31) - 2 * row);
  ops::fill(s, rows, -3.0);
  Tensor f = Tensor::empty(dev, DType::f32, {4, row});
  ops::cast(s, rows, f);
  std::vector<float> fh(static_cast<size_t>(4 * row));
  f.copy_to_host(s, fh.data());
  for (float v : fh) ASSERT_EQ(v, -3.0f);
  std::vector<int8_t> edge(4);
  big.slice(0, (int64_t(1) << 31) + 2 * row - 2, (int64_t(1) << 31) + 2 * row + 2)
      .copy_to_host(s, edge.data());
  EXPECT_EQ(edge, (std::vector<int8_t>{-3, -3, 5, 5}));
}

}  // namespace
}  // namespace porta
