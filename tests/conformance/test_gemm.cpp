// gemm against the float64 reference: odd and LLM shapes, transposes, layouts,
// broadcast batches, every dtype combination, alpha/beta, bias and activations.
#include "support/harness.h"

namespace porta::test {
namespace {

class Gemm : public DeviceTest {};

struct GemmCase {
  std::vector<int64_t> a_batch, b_batch, c_batch;
  int64_t M, N, K;
  DType ta, tb, tc;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 0.0f;
  bool bias = false;
  ops::Activation act = ops::Activation::none;
  Layout la = Layout::contiguous, lb = Layout::contiguous, lc = Layout::contiguous;
};

void run(Stream& s, const GemmCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "M=" << c.M << " N=" << c.N << " K=" << c.K << " A "
                                    << dtype_name(c.ta) << " B " << dtype_name(c.tb) << " C "
                                    << dtype_name(c.tc) << " trans " << c.trans_a << c.trans_b << " batch "
                                    << shape_str(c.c_batch) << " beta " << c.beta << " act "
                                    << static_cast<int>(c.act) << " layouts " << layout_name(c.la) << "/"
                                    << layout_name(c.lb) << "/" << layout_name(c.lc));
  const HostTensor a = random(cat(c.a_batch, {c.M, c.K}), c.ta, seed);
  const HostTensor b = random(cat(c.b_batch, {c.K, c.N}), c.tb, seed + 1);
  const auto c_shape = cat(c.c_batch, {c.M, c.N});
  const HostTensor c_old = random(c_shape, c.tc, seed + 2);
  const HostTensor bias = random({c.N}, DType::f32, seed + 3);
  Tensor A = upload(s, c.trans_a ? transpose_last(a) : a, c.ta, c.la);
  Tensor B = upload(s, c.trans_b ? transpose_last(b) : b, c.tb, c.lb);
  Tensor bias_t = upload(s, bias, DType::f32);
  GuardedOutput C(s, c_shape, c.tc, c.lc);
  if (c.beta != 0.0f) C.set(s, c_old);
  ops::GemmOptions o;
  o.trans_a = c.trans_a;
  o.trans_b = c.trans_b;
  o.alpha = c.alpha;
  o.beta = c.beta;
  o.bias = c.bias ? &bias_t : nullptr;
  o.activation = c.act;
  ops::gemm(s, A, B, C.tensor(), o);
  const HostTensor want = ref::gemm(a, b, c_old, c_shape, c.alpha, c.beta, c.bias ? &bias : nullptr, c.act);
  EXPECT_TRUE(close(C.result(s), want, OpClass::matmul, c.tc, c.act != ops::Activation::relu));
}

TEST_P(Gemm, OddShapesF32) {
  Stream s(device());
  uint32_t seed = 10;
  for (int64_t M : {1, 7, 33})
    for (int64_t N : {1, 7, 33, 100})
      for (int64_t K : {1, 7, 100}) run(s, {{}, {}, {}, M, N, K, DType::f32, DType::f32, DType::f32}, seed++);
}

TEST_P(Gemm, TransposesAndLayouts) {
  Stream s(device());
  uint32_t seed = 100;
  const Layout ls[] = {Layout::contiguous, Layout::padded, Layout::transposed};
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (Layout l : ls) {
        GemmCase c{{}, {}, {}, 33, 17, 40, DType::f32, DType::f32, DType::f32};
        c.trans_a = ta;
        c.trans_b = tb;
        c.la = l;
        c.lb = ls[(static_cast<int>(l) + 1) % 3];
        c.lc = ls[(static_cast<int>(l) + 2) % 3];
        run(s, c, seed++);
      }
}

TEST_P(Gemm, DtypeCombinations) {
  Stream s(device());
  uint32_t seed = 200;
  const DType fl[] = {DType::f32, DType::f16, DType::bf16};
  for (DType ta : fl)
    for (DType tb : fl)
      for (DType tc : fl) {
        if (!supports(ta) || !supports(tb) || !supports(tc)) continue;
        run(s, {{}, {}, {}, 19, 24, 70, ta, tb, tc}, seed++);
        // Decode-shaped: weights stored [N, K] (transposed), the layout engines use.
        GemmCase d{{}, {}, {}, 2, 96, 130, ta, tb, tc};
        d.trans_b = true;
        run(s, d, seed++);
      }
}

TEST_P(Gemm, EpilogueAlphaBetaBiasActivation) {
  Stream s(device());
  uint32_t seed = 300;
  for (auto act :
       {ops::Activation::none, ops::Activation::relu, ops::Activation::gelu, ops::Activation::silu})
    for (float beta : {0.0f, 0.5f})
      for (DType tc : {DType::f32, DType::bf16}) {
        GemmCase c{{}, {}, {}, 13, 40, 300, DType::f32, DType::f32, tc};
        c.alpha = 0.75f;
        c.beta = beta;
        c.bias = true;
        c.act = act;
        run(s, c, seed++);
        c.M = 3;  // small-M path
        run(s, c, seed++);
      }
}

TEST_P(Gemm, BatchedWithBroadcast) {
  Stream s(device());
  uint32_t seed = 400;
  run(s, {{3}, {3}, {3}, 9, 20, 33, DType::f32, DType::f32, DType::f32}, seed++);
  run(s, {{4}, {}, {4}, 7, 33, 16, DType::f32, DType::bf16, DType::f32}, seed++);       // shared weights
  run(s, {{2, 3}, {3}, {2, 3}, 5, 8, 12, DType::f32, DType::f32, DType::f32}, seed++);  // rank 4, B broadcast
  run(s, {{2, 1}, {1, 3}, {2, 3}, 6, 7, 9, DType::f16, DType::f16, DType::f16}, seed++);
  GemmCase t{{2, 3}, {2, 3}, {2, 3}, 7, 9, 11, DType::f32, DType::f32, DType::f32};
  t.lc = Layout::padded;
  t.trans_a = true;
  run(s, t, seed++);
}

TEST_P(Gemm, LlmShapes) {
  Stream s(device());
  GemmCase prefill{{}, {}, {}, 16, 512, 256, DType::f32, DType::bf16, DType::f32};
  prefill.trans_b = true;
  run(s, prefill, 500);
  GemmCase decode{{}, {}, {}, 1, 1000, 512, DType::bf16, DType::bf16, DType::bf16};
  decode.trans_b = true;
  run(s, decode, 501);
  run(s, {{}, {}, {}, 128, 96, 512, DType::f32, DType::f32, DType::f32}, 502);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Gemm);
PORTA_INSTANTIATE_ON_DEVICES(Gemm);

}  // namespace
}  // namespace porta::test
