// Cases the fuzzers (tests/fuzz) found, kept so they stay fixed on every device.
#include "support/harness.h"

namespace porta::test {
namespace {

class FuzzRegressions : public DeviceTest {};

// fuzz_ops: embedding read the wrong ids when the ids view ends in extent-1 dims whose
// strides do not chain (ids [8, 1, 1] with strides [4, 4, 1], a padded layout): merging the
// leading dims took the last dim's stride 1 instead of 4. The output [8, 1, 1, D] too.
TEST_P(FuzzRegressions, EmbeddingIdsWithTrailingUnitDims) {
  Stream s(device());
  const int64_t V = 5, D = 8;
  const HostTensor table = random({V, D}, DType::f32, 71);
  HostTensor ids({8, 1, 1});
  for (int64_t i = 0; i < 8; ++i) ids[i] = static_cast<double>((i * 3) % V);
  const Tensor T = upload(s, table, DType::f32);
  const Tensor I = upload(s, ids, DType::i32, Layout::padded);
  ASSERT_FALSE(I.is_contiguous());
  GuardedOutput out(s, {8, 1, 1, D}, DType::f32, Layout::padded);
  ops::embedding(s, T, I, out.tensor());
  std::vector<int32_t> id_list(ids.v.begin(), ids.v.end());
  EXPECT_TRUE(equal(out.result(s), ref::embedding(table, id_list, {8, 1, 1})));
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FuzzRegressions);
PORTA_INSTANTIATE_ON_DEVICES(FuzzRegressions);

}  // namespace
}  // namespace porta::test
