// gemm shapes one past each blocking boundary a tiled kernel has (depth blocks, row and
// column panels, workspaces for non-f32 or strided C, batch scheduling), each against the
// float64 reference. Sizes are chosen from common tile sizes (kc 256, mc 96, nc 1024/2048,
// 8x8 transposes), so they also hit the edges of GPU tilings; each stays small in flops.
#include "support/harness.h"

namespace porta::test {
namespace {

class GemmBlocking : public DeviceTest {};

struct Case {
  std::vector<int64_t> batch;
  int64_t M, N, K;
  DType ta = DType::f32, tb = DType::f32, tc = DType::f32;
  bool trans_b = false;
  float beta = 0.0f;
  bool bias = false;
  ops::Activation act = ops::Activation::none;
  Layout lb = Layout::contiguous, lc = Layout::contiguous;
  bool shared_b = false;  // B has no batch dims
};

void run(Stream& s, const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "batch " << shape_str(c.batch) << (c.shared_b ? " shared B" : "")
                                    << " M=" << c.M << " N=" << c.N << " K=" << c.K << " " << dtype_name(c.ta)
                                    << "x" << dtype_name(c.tb) << "->" << dtype_name(c.tc) << " trans_b "
                                    << c.trans_b << " beta " << c.beta << " B " << layout_name(c.lb) << " C "
                                    << layout_name(c.lc));
  const HostTensor a = random(cat(c.batch, {c.M, c.K}), c.ta, seed);
  const HostTensor b = random(cat(c.shared_b ? std::vector<int64_t>{} : c.batch, {c.K, c.N}), c.tb, seed + 1);
  const auto c_shape = cat(c.batch, {c.M, c.N});
  const HostTensor c_old = random(c_shape, c.tc, seed + 2), bias = random({c.N}, DType::f32, seed + 3);
  Tensor A = upload(s, a, c.ta), B = upload(s, c.trans_b ? transpose_last(b) : b, c.tb, c.lb);
  Tensor Bias = upload(s, bias, DType::f32);
  GuardedOutput C(s, c_shape, c.tc, c.lc);
  if (c.beta != 0.0f) C.set(s, c_old);
  ops::GemmOptions o;
  o.trans_b = c.trans_b;
  o.beta = c.beta;
  o.bias = c.bias ? &Bias : nullptr;
  o.activation = c.act;
  ops::gemm(s, A, B, C.tensor(), o);
  const HostTensor want = ref::gemm(a, b, c_old, c_shape, 1.0, c.beta, c.bias ? &bias : nullptr, c.act);
  EXPECT_TRUE(close(C.result(s), want, OpClass::matmul, c.tc));
}

TEST_P(GemmBlocking, DepthRowAndColumnBlocks) {
  Stream s(device());
  run(s, {{}, 97, 70, 513}, 9000);                                           // 3 depth blocks, 2 row blocks
  run(s, {{}, 20, 2049 + 16, 300}, 9001);                                    // one column past a 2048 panel
  run(s, {{}, 33, 70, 513, DType::f32, DType::f32, DType::f16}, 9002);       // half C: f32 workspace
  run(s, {{}, 24, 1030, 300, DType::bf16, DType::bf16, DType::bf16}, 9003);  // workspace wider than 1024
}

TEST_P(GemmBlocking, ManyRowsThroughWorkspace) {
  Stream s(device());
  run(s, {{}, 2050, 9, 260, DType::f32, DType::f32, DType::bf16}, 9100);
  Case strided{{}, 300, 40, 300};
  strided.lc = Layout::transposed;  // C column-major: no direct store
  strided.beta = 0.5f;
  strided.bias = true;
  strided.act = ops::Activation::gelu;
  run(s, strided, 9101);
}

TEST_P(GemmBlocking, TransposedWeightsOddSizes) {
  Stream s(device());
  uint32_t seed = 9200;
  for (DType tb : {DType::f32, DType::f16, DType::bf16}) {
    if (!supports(tb)) continue;
    for (int64_t M : {3, 20}) {
      Case c{{}, M, 45, 261, DType::f32, tb, DType::f32, true};
      run(s, c, seed++);
      c.N = 8 * 16 + 5;  // past a group of four 16-wide panels plus a tail
      c.K = 40;
      run(s, c, seed++);
    }
  }
}

TEST_P(GemmBlocking, EpilogueAcrossDepthBlocks) {
  Stream s(device());
  uint32_t seed = 9300;
  for (DType tc : {DType::f32, DType::bf16}) {
    Case c{{}, 40, 33, 600, DType::f32, DType::f32, tc};
    c.beta = 0.5f;  // applied once, not once per depth block
    c.bias = true;
    c.act = ops::Activation::silu;
    run(s, c, seed++);
  }
}

TEST_P(GemmBlocking, BatchScheduling) {
  Stream s(device());
  run(s, {{9}, 20, 24, 40}, 9400);    // many small entries
  run(s, {{3}, 100, 64, 300}, 9401);  // few large entries
  Case fold{{5}, 7, 33, 20};          // shared B, rows folded across entries
  fold.shared_b = true;
  run(s, fold, 9402);
  Case fold_t = fold;
  fold_t.trans_b = true;
  fold_t.M = 19;
  run(s, fold_t, 9403);
}

TEST_P(GemmBlocking, SmallMWithFullyStridedB) {
  // B with neither unit row nor unit column stride: the streaming small-M path cannot read it.
  Stream s(device());
  for (int64_t M : {1, 5, 16}) {
    Case c{{}, M, 37, 70};
    c.lb = Layout::stepped;
    run(s, c, static_cast<uint32_t>(9500 + M));
    c.trans_b = true;
    run(s, c, static_cast<uint32_t>(9600 + M));
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GemmBlocking);
PORTA_INSTANTIATE_ON_DEVICES(GemmBlocking);

}  // namespace
}  // namespace porta::test
