// gemm and attention cases the main suites leave out: explicit and large attention
// scales (online-softmax overflow), causal with Sq > Skv and kv_lens < Sq (rows that see
// no key), q and out as [B, S, H, D] views, half precision at every head dim, GQA 8;
// gemm with a broadcast A, half-precision bias, alpha = 0, long K in f16, M or N = 1.
#include <cmath>
#include <optional>

#include "support/harness.h"

namespace porta::test {
namespace {

class MatmulEdges : public DeviceTest {};

struct Attn {
  int64_t B, Hq, Hkv, Sq, Skv, D;
  DType t = DType::f32;
  bool causal = false;
  double scale = 0;  // 0: default 1/sqrt(D)
  std::vector<int32_t> lens;
  bool bshd = false;  // q, k, v and out all [B, S, H, D] storage seen through transpose(1, 2)
  double range = 1;   // inputs uniform in [-range, range)
};

void run(Stream& s, const Attn& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "B=" << c.B << " Hq=" << c.Hq << " Hkv=" << c.Hkv << " Sq=" << c.Sq
                                    << " Skv=" << c.Skv << " D=" << c.D << " " << dtype_name(c.t)
                                    << " causal=" << c.causal << " scale=" << c.scale
                                    << " lens=" << c.lens.size() << " bshd=" << c.bshd);
  const HostTensor q = random({c.B, c.Hq, c.Sq, c.D}, c.t, seed, -c.range, c.range);
  const HostTensor k = random({c.B, c.Hkv, c.Skv, c.D}, c.t, seed + 1, -c.range, c.range);
  const HostTensor v = random({c.B, c.Hkv, c.Skv, c.D}, c.t, seed + 2);
  auto put = [&](const HostTensor& h) {
    return c.bshd ? upload(s, to_bshd(h), c.t).transpose(1, 2) : upload(s, h, c.t, Layout::padded);
  };
  Tensor Q = put(q), K = put(k), V = put(v);
  // A [B, S, H, D] output fills its whole buffer (no gaps to guard); it is only poisoned.
  std::optional<GuardedOutput> g;
  Tensor O;
  if (c.bshd) {
    O = Tensor::empty(s.device(), c.t, {c.B, c.Sq, c.Hq, c.D});
    ops::fill(s, O, std::nan(""));
    O = O.transpose(1, 2);
  } else {
    g.emplace(s, std::vector<int64_t>{c.B, c.Hq, c.Sq, c.D}, c.t, Layout::stepped);
    O = g->tensor();
  }
  Tensor lens;
  ops::AttentionOptions o;
  o.causal = c.causal;
  if (c.scale != 0) o.scale = static_cast<float>(c.scale);
  if (!c.lens.empty()) {
    lens = Tensor::from_host(s, DType::i32, {c.B}, c.lens.data());
    o.kv_lens = &lens;
  }
  ops::attention(s, Q, K, V, O, o);
  const double scale = c.scale != 0 ? static_cast<double>(static_cast<float>(c.scale))
                                    : 1.0 / std::sqrt(static_cast<double>(c.D));
  const HostTensor want = ref::attention(q, k, v, c.causal, scale, c.lens.empty() ? nullptr : &c.lens);
  // Rows that see no key are zero by definition: the weak-test guard is off for them.
  const bool some_rows_empty = !c.lens.empty() || (c.causal && c.Sq > c.Skv);
  EXPECT_TRUE(close(g ? g->result(s) : download(s, O), want, OpClass::matmul, c.t, !some_rows_empty));
}

TEST_P(MatmulEdges, AttentionScales) {
  Stream s(device());
  // scale 1 on inputs in [-3, 3) with D = 128: logits reach ~±100, beyond exp's f32 range.
  run(s, {1, 2, 2, 9, 70, 128, DType::f32, false, 1.0, {}, false, 3.0}, 7000);
  run(s, {1, 2, 1, 1, 300, 128, DType::f32, false, 1.0, {}, false, 3.0}, 7001);  // decode path
  run(s, {2, 4, 2, 7, 33, 64, DType::f32, true, 0.05}, 7002);
}

TEST_P(MatmulEdges, AttentionRowsThatSeeNoKey) {
  Stream s(device());
  run(s, {1, 2, 2, 7, 3, 64, DType::f32, true}, 7100);                    // Sq > Skv: rows 0..3 see nothing
  run(s, {2, 4, 4, 6, 20, 64, DType::f32, true, 0, {2, 20}}, 7101);       // kv_len < Sq with causal
  run(s, {3, 2, 1, 1, 50, 80, DType::f32, true, 0, {0, 1, 1000}}, 7102);  // decode: empty, one key, clamp
  run(s, {2, 8, 2, 33, 33, 96, DType::f32, false, 0, {-5, 33}}, 7103);    // negative length clamps to 0
}

TEST_P(MatmulEdges, AttentionBshdQueriesAndOutput) {
  Stream s(device());
  Attn c{2, 8, 2, 9, 40, 64, DType::f32, true};
  c.bshd = true;
  run(s, c, 7200);
  Attn d{2, 16, 2, 1, 257, 128, DType::f32, false, 0, {257, 31}};  // GQA 8, decode
  d.bshd = true;
  run(s, d, 7201);
}

TEST_P(MatmulEdges, AttentionHalfEveryHeadDim) {
  Stream s(device());
  uint32_t seed = 7300;
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports("attention", t)) continue;
    for (int64_t D : {64, 80, 96, 128, 256}) {
      run(s, {1, 4, 1, 9, 17, D, t, true}, seed++);
      run(s, {2, 4, 2, 1, 65, D, t, false, 0, {65, 40}}, seed++);
    }
  }
}

// ---- gemm ----

void gemm_case(Stream& s, const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape,
               const std::vector<int64_t>& c_shape, DType ta, DType tb, DType tc,
               const ops::GemmOptions& base, DType bias_t, bool with_bias, uint32_t seed, double range = 1) {
  SCOPED_TRACE(::testing::Message() << "A " << dtype_name(ta) << shape_str(a_shape) << " B " << dtype_name(tb)
                                    << shape_str(b_shape) << " C " << dtype_name(tc) << shape_str(c_shape)
                                    << " alpha " << base.alpha << " beta " << base.beta << " bias "
                                    << (with_bias ? dtype_name(bias_t) : "none"));
  const HostTensor a = random(a_shape, ta, seed, -range, range),
                   b = random(b_shape, tb, seed + 1, -range, range);
  const HostTensor c_old = random(c_shape, tc, seed + 2), bias = random({c_shape.back()}, bias_t, seed + 3);
  Tensor A = upload(s, a, ta), B = upload(s, b, tb), Bias = upload(s, bias, bias_t);
  GuardedOutput C(s, c_shape, tc, Layout::padded);
  if (base.beta != 0) C.set(s, c_old);
  ops::GemmOptions o = base;
  o.bias = with_bias ? &Bias : nullptr;
  ops::gemm(s, A, B, C.tensor(), o);
  const HostTensor want =
      ref::gemm(o.trans_a ? transpose_last(a) : a, o.trans_b ? transpose_last(b) : b, c_old, c_shape,
                base.alpha, base.beta, with_bias ? &bias : nullptr, o.activation);
  EXPECT_TRUE(close(C.result(s), want, OpClass::matmul, tc));
}

TEST_P(MatmulEdges, GemmBroadcastA) {
  Stream s(device());
  // A shared across the batch of B (the opposite of shared weights), rank 3 and rank 4.
  gemm_case(s, {5, 12}, {3, 12, 7}, {3, 5, 7}, DType::f32, DType::f32, DType::f32, {}, DType::f32, false,
            7400);
  gemm_case(s, {1, 5, 12}, {2, 3, 12, 7}, {2, 3, 5, 7}, DType::f32, DType::f32, DType::f32, {}, DType::f32,
            false, 7401);
}

TEST_P(MatmulEdges, GemmHalfBiasAndAlphaZero) {
  Stream s(device());
  uint32_t seed = 7500;
  for (DType bt : {DType::f16, DType::bf16}) {
    if (!supports(bt)) continue;
    ops::GemmOptions o;
    o.activation = ops::Activation::silu;
    gemm_case(s, {9, 40}, {40, 33}, {9, 33}, DType::f32, DType::f32, DType::f32, o, bt, true, seed++);
    gemm_case(s, {1, 40}, {40, 33}, {1, 33}, bt, bt, bt, o, bt, true, seed++);
  }
  ops::GemmOptions z;  // C = beta*C + bias: the product is skipped but C is still read
  z.alpha = 0.0f;
  z.beta = 1.0f;
  gemm_case(s, {9, 40}, {40, 33}, {9, 33}, DType::f32, DType::f32, DType::f32, z, DType::f32, true, seed++);
}

TEST_P(MatmulEdges, GemmLongKAndDegenerateMN) {
  Stream s(device());
  uint32_t seed = 7600;
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    // K = 4096 in half inputs: f32 accumulation keeps NMSE tiny; half accumulation does not.
    gemm_case(s, {4, 4096}, {4096, 24}, {4, 24}, t, t, DType::f32, {}, DType::f32, false, seed++);
    gemm_case(s, {17, 4096}, {4096, 24}, {17, 24}, t, t, DType::f32, {}, DType::f32, false, seed++);
  }
  ops::GemmOptions ta;
  ta.trans_a = true;
  gemm_case(s, {70, 1}, {70, 45}, {1, 45}, DType::f32, DType::f32, DType::f32, ta, DType::f32, false, seed++);
  ops::GemmOptions tb;
  tb.trans_b = true;
  gemm_case(s, {45, 70}, {1, 70}, {45, 1}, DType::f32, DType::bf16, DType::f32, tb, DType::f32, false,
            seed++);
  gemm_case(s, {1, 1}, {1, 1}, {1, 1}, DType::f32, DType::f32, DType::f32, {}, DType::f32, false, seed++, 1);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MatmulEdges);
PORTA_INSTANTIATE_ON_DEVICES(MatmulEdges);

}  // namespace
}  // namespace porta::test
