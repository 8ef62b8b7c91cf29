// Views never copy: reshape of non-contiguous tensors where the merged/split dims are
// laid out one after another, checked by reading values back through the view.
#include "support/harness.h"

namespace porta::test {
namespace {

class Views : public DeviceTest {};

TEST_P(Views, ReshapeOfStridedViews) {
  Stream s(device());
  const HostTensor x = random({4, 8}, DType::f32, 4000);
  Tensor X = upload(s, x, DType::f32);
  Tensor rows = X.slice(1, 0, 4);  // [4, 4], strides [8, 1]
  Tensor split = rows.reshape({2, 2, 4});
  EXPECT_FALSE(split.is_contiguous());
  EXPECT_EQ(split.buffer(), X.buffer()) << "reshape copied";
  HostTensor want({2, 2, 4});
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) want[i * 4 + j] = x[i * 8 + j];
  EXPECT_TRUE(equal(download(s, split), want));
  // A transposed [3, 2, 4] view splits its last dim but cannot merge its first two.
  const HostTensor y = random({2, 3, 4}, DType::f32, 4001);
  Tensor T = upload(s, y, DType::f32).transpose(0, 1);
  Tensor T4 = T.reshape({3, 2, 2, 2});
  HostTensor want4({3, 2, 2, 2});
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t c = 0; c < 4; ++c) want4[(a * 2 + b) * 4 + c] = y[(b * 3 + a) * 4 + c];
  EXPECT_TRUE(equal(download(s, T4), want4));
  EXPECT_THROW(T.reshape({6, 4}), Error);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Views);
PORTA_INSTANTIATE_ON_DEVICES(Views);

}  // namespace
}  // namespace porta::test
