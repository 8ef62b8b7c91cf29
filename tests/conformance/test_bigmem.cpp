// 64-bit indexing on the cpu: an i8 tensor of more than 2^31 elements (about 2.1 GB) read and
// written by element offsets past 2^31, and an f32 tensor whose byte offsets pass 2^31.
// Each test allocates and frees its own buffer, so the peak stays near 2.1 GB.
#include <gtest/gtest.h>

#include <vector>

#include "porta/porta.h"

namespace porta {
namespace {

constexpr int64_t k2g = int64_t(1) << 31;
constexpr int64_t kRow = int64_t(1) << 16;

class BigTensor : public ::testing::Test {
 protected:
  Device dev_ = Device::select("cpu");
  Stream s_{dev_};

  std::vector<int8_t> read_i8(const Tensor& t) {
    std::vector<int8_t> h(static_cast<size_t>(t.numel()));
    t.copy_to_host(s_, h.data());
    return h;
  }
};

TEST_F(BigTensor, FillCopyAndCastPast2To31Elements) {
  const int64_t n = k2g + (int64_t(1) << 18);
  Tensor big = Tensor::empty(dev_, DType::i8, {n});
  ops::fill(s_, big, 5.0);
  // The last 96 elements lie past 2^31: reading them needs 64-bit offsets.
  Tensor small = Tensor::empty(dev_, DType::i8, {96});
  ops::copy(s_, big.slice(0, n - 96, n), small);
  for (int8_t v : read_i8(small)) ASSERT_EQ(v, 5);
  // A 2-D view whose rows cross the 2^31 boundary, cast to f32 (strided read, 64-bit math).
  Tensor rows = big.view({4, kRow}, {kRow, 1}, k2g - 2 * kRow);
  ops::fill(s_, rows, -3.0);
  Tensor f = Tensor::empty(dev_, DType::f32, {4, kRow});
  ops::cast(s_, rows, f);
  std::vector<float> fh(static_cast<size_t>(4 * kRow));
  f.copy_to_host(s_, fh.data());
  for (float v : fh) ASSERT_EQ(v, -3.0f);
  EXPECT_EQ(read_i8(big.slice(0, k2g + 2 * kRow - 2, k2g + 2 * kRow + 2)),
            (std::vector<int8_t>{-3, -3, 5, 5}));
}

TEST_F(BigTensor, StrideOf2To31AndGatherPastIt) {
  const int64_t n = k2g + (int64_t(1) << 18);
  Tensor big = Tensor::empty(dev_, DType::i8, {n});
  ops::fill(s_, big, 1.0);
  // Element (1, j) of this view sits 2^31 elements after (0, j): a 32-bit stride product wraps.
  Tensor pair = big.view({2, 8}, {k2g, 1}, 100);
  std::vector<int8_t> up = {10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 25, 26, 27};
  pair.copy_from_host(s_, up.data());  // strided upload through core's host path
  Tensor out = Tensor::empty(dev_, DType::i8, {2, 8});
  ops::copy(s_, pair, out);
  EXPECT_EQ(read_i8(out), up);
  EXPECT_EQ(read_i8(big.slice(0, k2g + 99, k2g + 110)),
            (std::vector<int8_t>{1, 20, 21, 22, 23, 24, 25, 26, 27, 1, 1}));

  // Embedding rows of a [V, 2^16] table that lies past 2^31 elements: id * D overflows int32.
  const int64_t V = n / kRow;
  Tensor table = big.view({V, kRow}, {kRow, 1}, 0);
  Tensor last = table.slice(0, V - 1, V), second_last = table.slice(0, V - 2, V - 1);
  ops::fill(s_, last, 9.0);
  ops::fill(s_, second_last, -9.0);
  std::vector<int32_t> ids = {static_cast<int32_t>(V - 1), 3, static_cast<int32_t>(V - 2),
                              static_cast<int32_t>(V)};
  Tensor I = Tensor::from_host(s_, DType::i32, {4}, ids.data());
  Tensor rows = Tensor::empty(dev_, DType::i8, {4, kRow});
  ops::embedding(s_, table, I, rows);
  const auto got = read_i8(rows);
  for (int64_t j = 0; j < kRow; j += 4099) {
    ASSERT_EQ(got[static_cast<size_t>(j)], 9) << "row of id V-1, col " << j;
    ASSERT_EQ(got[static_cast<size_t>(2 * kRow + j)], -9) << "row of id V-2, col " << j;
    ASSERT_EQ(got[static_cast<size_t>(3 * kRow + j)], 0) << "out-of-range id V gives a zero row";
  }

  // argmax over rows that cross 2^31, with the maximum past it.
  Tensor cross = big.view({2, kRow}, {kRow, 1}, k2g - kRow - 5);
  Tensor peak = big.slice(0, k2g + 17, k2g + 18);
  ops::fill(s_, peak, 100.0);
  Tensor am = Tensor::empty(dev_, DType::i32, {2});
  ops::argmax(s_, cross, am);
  std::vector<int32_t> idx(2);
  am.copy_to_host(s_, idx.data());
  EXPECT_EQ(idx[1], 17 + 5);  // row 1 starts at 2^31 - 5
}

TEST_F(BigTensor, AddAcrossByteOffset2To31) {
  // 2^29 + 2^18 floats: element offsets fit int32, byte offsets do not.
  const int64_t n = (int64_t(1) << 29) + 4 * kRow;
  Tensor big = Tensor::empty(dev_, DType::f32, {n});
  ops::fill(s_, big, 2.0);
  Tensor rows = big.view({4, kRow}, {kRow, 1}, (k2g / 4 - 2 * kRow + 3) * 4);
  std::vector<float> b_host(static_cast<size_t>(kRow));
  for (int64_t j = 0; j < kRow; ++j) b_host[static_cast<size_t>(j)] = static_cast<float>(j % 100);
  Tensor b = Tensor::from_host(s_, DType::f32, {kRow}, b_host.data());
  ops::add(s_, rows, b, rows);  // in place, b broadcast over the rows
  std::vector<float> got(static_cast<size_t>(4 * kRow));
  rows.copy_to_host(s_, got.data());
  for (int64_t i = 0; i < 4 * kRow; ++i)
    ASSERT_EQ(got[static_cast<size_t>(i)], 2.0f + static_cast<float>((i % kRow) % 100)) << "element " << i;
  std::vector<float> edge(2);
  big.slice(0, k2g / 4 + 2 * kRow + 2, k2g / 4 + 2 * kRow + 4).copy_to_host(s_, edge.data());
  EXPECT_EQ(edge, (std::vector<float>{2.0f + static_cast<float>((kRow - 1) % 100), 2.0f}));
}

}  // namespace
}  // namespace porta
