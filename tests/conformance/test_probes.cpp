// Paths the other suites leave out: core's staging copies for argmax/embedding views
// whose leading dims do not merge, long rows split across threads, positions and masks
// read through strides or of another dtype, the full gemm {1,7,33,100}^3 grid, gemm
// batches that cannot be merged, attention with an explicit scale, and rounding of a
// double straight to f16/bf16 (once, not through f32).
#include <cmath>
#include <limits>

#include "support/harness.h"

namespace porta::test {
namespace {

class Probes : public DeviceTest {};

constexpr double kInf = std::numeric_limits<double>::infinity();

// Host data with dims 0 and 1 swapped (the storage of a transpose(0, 1) view).
HostTensor swap01(const HostTensor& x) {
  auto shape = x.shape;
  std::swap(shape[0], shape[1]);
  HostTensor y(shape);
  const int64_t A = x.shape[0], B = x.shape[1], inner = x.numel() / (A * B);
  for (int64_t a = 0; a < A; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < inner; ++i) y[(b * A + a) * inner + i] = x[(a * B + b) * inner + i];
  return y;
}

// A device view with x's logical values whose dims 0 and 1 do not chain (strides [inner, A*inner]).
Tensor upload_swapped(Stream& s, const HostTensor& x, DType t) {
  return upload(s, swap01(x), t).transpose(0, 1);
}

HostTensor as_host(const std::vector<int32_t>& v, std::vector<int64_t> shape) {
  HostTensor h(std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) h.v[i] = v[i];
  return h;
}

TEST_P(Probes, ArgmaxThroughUnmergeableViews) {
  Stream s(device());
  for (DType t : {DType::f32, DType::bf16, DType::i32}) {
    if (!supports(t)) continue;
    SCOPED_TRACE(dtype_name(t));
    const HostTensor x = random({2, 3, 4, 50}, t, 7000, -100, 100);
    Tensor X = upload_swapped(s, x, t);                             // [2, 3, 4, 50], dims 0/1 do not chain
    GuardedOutput o(s, {2, 3, 4}, DType::i32, Layout::transposed);  // output does not chain either
    ops::argmax(s, X, o.tensor());
    EXPECT_TRUE(equal(o.result(s), as_host(ref::argmax(x), {2, 3, 4})));
  }
}

TEST_P(Probes, EmbeddingThroughUnmergeableViews) {
  Stream s(device());
  const HostTensor table = random({40, 24}, DType::f32, 7100);
  std::vector<int32_t> ids(24);
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<int32_t>((i * 7) % 45) - 2;  // some out of range
  const HostTensor idh = as_host(ids, {2, 3, 4});
  Tensor I = upload_swapped(s, idh, DType::i32);
  GuardedOutput o(s, {2, 3, 4, 24}, DType::f32, Layout::transposed);
  ops::embedding(s, upload(s, table, DType::f32, Layout::padded), I, o.tensor());
  EXPECT_TRUE(equal(o.result(s), ref::embedding(table, ids, {2, 3, 4})));
}

TEST_P(Probes, LongRowsSplitAcrossThreads) {
  Stream s(device());
  uint32_t seed = 7200;
  for (DType t : {DType::f32, DType::f16}) {
    if (!supports(t)) continue;
    for (const auto& shape : std::vector<std::vector<int64_t>>{{1, 100003}, {3, 40001}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << shape_str(shape));
      const HostTensor a = random(shape, t, seed++, -3, 3), b = random({shape.back()}, t, seed++);
      Tensor A = upload(s, a, t, Layout::stepped);
      GuardedOutput add(s, shape, t, Layout::padded), g(s, shape, t, Layout::stepped);
      ops::add(s, A, upload(s, b, t), add.tensor());
      ops::gelu(s, A, g.tensor(), false);
      EXPECT_TRUE(close(add.result(s), ref::cast(ref::binary(ref::Binary::add, a, b, shape), t),
                        OpClass::elementwise, t));
      EXPECT_TRUE(
          close(g.result(s), ref::cast(ref::unary(ref::Unary::gelu_erf, a), t), OpClass::elementwise, t));
      // Row ops over one very long row.
      GuardedOutput sm(s, shape, t, Layout::padded), rn(s, shape, t);
      ops::softmax(s, A, sm.tensor(), 2.0f);
      const HostTensor w = random({shape.back()}, DType::f32, seed++, 0.5, 1.5);
      ops::rms_norm(s, A, upload(s, w, DType::f32), rn.tensor());
      EXPECT_TRUE(close(sm.result(s), ref::softmax(a, 2.0, nullptr), OpClass::reduction, t));
      EXPECT_TRUE(close(rn.result(s), ref::rms_norm(a, w, 1e-6), OpClass::reduction, t));
      // fill, cast and argmax on the same long rows.
      GuardedOutput f(s, shape, DType::i8, Layout::stepped), c(s, shape, DType::i32, Layout::padded);
      ops::fill(s, f.tensor(), -5.0);
      ops::cast(s, A, c.tensor());
      HostTensor want(shape);
      for (auto& e : want.v) e = -5.0;
      EXPECT_TRUE(equal(f.result(s), want));
      EXPECT_TRUE(equal(c.result(s), ref::cast(a, DType::i32)));
      GuardedOutput am(s, {shape[0]}, DType::i32);
      ops::argmax(s, A, am.tensor());
      EXPECT_TRUE(equal(am.result(s), as_host(ref::argmax(a), {shape[0]})));
    }
  }
}

TEST_P(Probes, SoftmaxMaskOtherDtypeAndColumnBroadcast) {
  Stream s(device());
  uint32_t seed = 7300;
  for (DType t : {DType::f32, DType::bf16}) {
    for (DType mt : {DType::f16, DType::bf16, DType::f32}) {
      if (!supports("softmax", t) || !supports(mt)) continue;
      SCOPED_TRACE(::testing::Message() << "x " << dtype_name(t) << " mask " << dtype_name(mt));
      const HostTensor x = random({2, 5, 33}, t, seed++, -3, 3);
      // mask [5, 33] over batches, one -inf column pattern per row.
      HostTensor mask = random({5, 33}, mt, seed++, -2, 2);
      for (int64_t i = 0; i < 5; ++i) mask[i * 33 + (i * 5) % 33] = -kInf;
      // A [2, 1, 1] mask: one value per batch, broadcast along the row (stride 0 in the last dim).
      HostTensor col = random({2, 1, 1}, mt, seed++, -2, 2);
      Tensor M = upload(s, mask, mt, Layout::transposed), C = upload(s, col, mt);
      GuardedOutput o1(s, x.shape, t), o2(s, x.shape, t, Layout::stepped);
      Tensor X = upload(s, x, t);
      ops::softmax(s, X, o1.tensor(), 0.5f, &M);
      ops::softmax(s, X, o2.tensor(), 1.5f, &C);
      EXPECT_TRUE(close(o1.result(s), ref::softmax(x, 0.5, &mask), OpClass::reduction, t));
      EXPECT_TRUE(close(o2.result(s), ref::softmax(x, 1.5, &col), OpClass::reduction, t));
    }
  }
  // Row of length 1: 1 when finite, 0 when masked.
  const HostTensor x = random({4, 1}, DType::f32, seed++);
  HostTensor mask({4, 1});
  mask[2] = -kInf;
  GuardedOutput o(s, {4, 1}, DType::f32);
  Tensor M = upload(s, mask, DType::f32);
  ops::softmax(s, upload(s, x, DType::f32), o.tensor(), 1.0f, &M);
  HostTensor want({4, 1});
  want.v = {1, 1, 0, 1};
  EXPECT_TRUE(equal(o.result(s), want));
}

TEST_P(Probes, RopeStridedPositionsLargeAndNegative) {
  Stream s(device());
  const int64_t B = 2, H = 2, S = 9, D = 80;
  uint32_t seed = 7400;
  for (auto style : {ops::RopeStyle::neox, ops::RopeStyle::gptj})
    for (bool per_batch : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "style " << static_cast<int>(style) << " per_batch " << per_batch);
      const HostTensor x = random({B, H, S, D}, DType::f32, seed++);
      std::vector<int32_t> pos(static_cast<size_t>(per_batch ? B * S : S));
      for (size_t i = 0; i < pos.size(); ++i)
        pos[i] = i % 3 == 0 ? -static_cast<int32_t>(i) * 11 : static_cast<int32_t>(i * 123457) % 1000000;
      // Positions through strides: [S] as every other element, [B, S] as a transposed [S, B].
      Tensor P;
      if (per_batch) {
        P = upload_swapped(s, as_host(pos, {B, S}), DType::i32);
      } else {
        std::vector<int32_t> wide(pos.size() * 2, 999999);
        for (size_t i = 0; i < pos.size(); ++i) wide[2 * i] = pos[i];
        P = Tensor::from_host(s, DType::i32, {static_cast<int64_t>(wide.size())}, wide.data())
                .slice(0, 0, 2 * S, 2);
      }
      GuardedOutput o(s, {B, H, S, D}, DType::f32, Layout::stepped);
      ops::RopeOptions opt;
      opt.style = style;
      opt.theta = 500000.0f;
      opt.rotary_dim = 48;
      ops::rope(s, upload(s, x, DType::f32, Layout::padded), P, o.tensor(), opt);
      // theta 500000 is exact in f32, so the reference sees the same base.
      EXPECT_TRUE(close(o.result(s), ref::rope(x, pos, per_batch, style, 500000.0, 48), OpClass::reduction,
                        DType::f32));
    }
}

struct G {
  std::vector<int64_t> a_batch, b_batch, c_batch;
  int64_t M, N, K;
  DType ta = DType::f32, tb = DType::f32, tc = DType::f32;
  bool trans_a = false, trans_b = false, c_swapped = false;
  float alpha = 1.0f, beta = 0.0f;
  ops::Activation act = ops::Activation::none;
};

void run_gemm(Stream& s, const G& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "M=" << c.M << " N=" << c.N << " K=" << c.K << " " << dtype_name(c.ta)
                                    << "x" << dtype_name(c.tb) << "->" << dtype_name(c.tc) << " trans "
                                    << c.trans_a << c.trans_b << " batch " << shape_str(c.c_batch));
  const HostTensor a = random(cat(c.a_batch, {c.M, c.K}), c.ta, seed);
  const HostTensor b = random(cat(c.b_batch, {c.K, c.N}), c.tb, seed + 1);
  const auto c_shape = cat(c.c_batch, {c.M, c.N});
  const HostTensor c_old = random(c_shape, c.tc, seed + 2);
  Tensor A = upload(s, c.trans_a ? transpose_last(a) : a, c.ta, Layout::padded);
  Tensor B = upload(s, c.trans_b ? transpose_last(b) : b, c.tb);
  ops::GemmOptions o;
  o.trans_a = c.trans_a;
  o.trans_b = c.trans_b;
  o.alpha = c.alpha;
  o.beta = c.beta;
  o.activation = c.act;
  HostTensor got;
  if (c.c_swapped) {  // C with batch dims 0/1 swapped in memory: the batch cannot be merged
    Tensor store = upload(s, swap01(c_old), c.tc);
    Tensor C = store.transpose(0, 1);
    if (c.beta == 0.0f) ops::fill(s, C, std::nan(""));
    ops::gemm(s, A, B, C, o);
    got = download(s, C);
  } else {
    GuardedOutput C(s, c_shape, c.tc, Layout::padded);
    if (c.beta != 0.0f) C.set(s, c_old);
    ops::gemm(s, A, B, C.tensor(), o);
    got = C.result(s);
  }
  const HostTensor want = ref::gemm(a, b, c_old, c_shape, c.alpha, c.beta, nullptr, c.act);
  EXPECT_TRUE(close(got, want, OpClass::matmul, c.tc));
}

TEST_P(Probes, GemmFullOddGrid) {
  Stream s(device());
  uint32_t seed = 7500;
  for (int64_t M : {1, 7, 33, 100})
    for (int64_t N : {1, 7, 33, 100})
      for (int64_t K : {1, 7, 33, 100}) {
        G c{{}, {}, {}, M, N, K};
        c.trans_a = (M + N) % 2 == 1;
        c.trans_b = (N + K) % 2 == 0;
        c.beta = K == 33 ? 0.25f : 0.0f;
        run_gemm(s, c, seed);
        seed += 3;
      }
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    for (int64_t M : {1, 33, 100})
      for (int64_t N : {7, 100})
        for (int64_t K : {7, 100}) {
          G c{{}, {}, {}, M, N, K, t, t, t};
          c.trans_b = true;
          run_gemm(s, c, seed);
          seed += 3;
        }
  }
}

TEST_P(Probes, GemmUnmergeableBatches) {
  Stream s(device());
  uint32_t seed = 7700;
  G c{{2, 3}, {}, {2, 3}, 9, 17, 20};
  c.c_swapped = true;
  c.beta = 0.5f;
  run_gemm(s, c, seed);
  seed += 3;
  G d{{3}, {2, 1}, {2, 3}, 5, 12, 33, DType::f32, DType::bf16, DType::f32};
  d.c_swapped = true;
  d.trans_b = true;
  d.act = ops::Activation::silu;
  run_gemm(s, d, seed);
  seed += 3;
  G e{{2, 1}, {1, 3}, {2, 3}, 1, 40, 64, DType::bf16, DType::bf16, DType::f16};
  e.c_swapped = true;
  if (supports(DType::bf16) && supports(DType::f16)) run_gemm(s, e, seed);
  seed += 3;
  G f{{1, 1}, {4}, {1, 4}, 8, 8, 8};  // extent-1 outer batch dim
  f.alpha = -2.0f;
  run_gemm(s, f, seed);
}

TEST_P(Probes, AttentionExplicitScaleAndDifferentLayouts) {
  Stream s(device());
  uint32_t seed = 7800;
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    if (!supports("attention", t)) continue;
    for (double scale : {0.0, -0.3, 0.05}) {
      for (int64_t Sq : {1, 7}) {
        const int64_t B = 2, Hq = 8, Hkv = 2, Skv = 65, D = 96;
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " scale " << scale << " Sq " << Sq);
        const HostTensor q = random({B, Hq, Sq, D}, t, seed++), k = random({B, Hkv, Skv, D}, t, seed++),
                         v = random({B, Hkv, Skv, D}, t, seed++);
        std::vector<int32_t> lens = {70, 30};
        Tensor L = Tensor::from_host(s, DType::i32, {B}, lens.data());
        ops::AttentionOptions o;
        o.scale = static_cast<float>(scale);
        o.causal = true;
        o.kv_lens = &L;
        GuardedOutput out(s, {B, Hq, Sq, D}, t, Layout::padded);
        ops::attention(s, upload(s, q, t, Layout::stepped), upload(s, k, t, Layout::transposed),
                       upload_swapped(s, v, t), out.tensor(), o);
        const double sc = static_cast<double>(static_cast<float>(scale));
        EXPECT_TRUE(close(out.result(s), ref::attention(q, k, v, true, sc, &lens), OpClass::matmul, t));
      }
    }
  }
}

TEST_P(Probes, SameTensorAsSeveralInputs) {
  Stream s(device());
  uint32_t seed = 7900;
  for (DType t : {DType::f32, DType::bf16}) {
    if (!supports(t)) continue;
    SCOPED_TRACE(dtype_name(t));
    // Gram matrix X·Xᵀ with one tensor as A and B (and as its own bias-free epilogue input).
    const HostTensor x = random({2, 33, 40}, t, seed++);
    Tensor X = upload(s, x, t, Layout::padded);
    GuardedOutput c(s, {2, 33, 33}, DType::f32);
    ops::GemmOptions o;
    o.trans_b = true;
    ops::gemm(s, X, X, c.tensor(), o);
    HostTensor xt({2, 40, 33});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < 33; ++i)
        for (int64_t k = 0; k < 40; ++k) xt[(b * 40 + k) * 33 + i] = x[(b * 33 + i) * 40 + k];
    EXPECT_TRUE(close(c.result(s),
                      ref::gemm(x, xt, HostTensor(), {2, 33, 33}, 1, 0, nullptr, ops::Activation::none),
                      OpClass::matmul, DType::f32));
    // k and v one tensor; q a slice of it.
    if (!supports("attention", t)) continue;
    const HostTensor kv = random({1, 2, 40, 64}, t, seed++);
    Tensor KV = upload(s, kv, t);
    GuardedOutput a(s, {1, 2, 40, 64}, t);
    ops::attention(s, KV, KV, KV, a.tensor());
    EXPECT_TRUE(close(a.result(s), ref::attention(kv, kv, kv, false, 0.125, nullptr), OpClass::matmul, t));
    // add/mul/silu_mul of a tensor with itself.
    GuardedOutput sq(s, x.shape, t), sm(s, x.shape, t);
    ops::mul(s, X, X, sq.tensor());
    ops::silu_mul(s, X, X, sm.tensor());
    EXPECT_TRUE(close(sq.result(s), ref::cast(ref::binary(ref::Binary::mul, x, x, x.shape), t),
                      OpClass::elementwise, t));
    EXPECT_TRUE(
        close(sm.result(s), ref::binary(ref::Binary::silu_mul, x, x, x.shape), OpClass::elementwise, t));
  }
}

// Row lengths around SIMD widths (8/16 lanes, 32/64-byte vectors) so vector bodies and
// scalar tails both run, in every float dtype and in contiguous and strided layouts.
TEST_P(Probes, SimdWidthTails) {
  Stream s(device());
  uint32_t seed = 8000;
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    for (int64_t D : {2, 8, 15, 16, 17, 31, 32, 33, 63, 65})
      for (Layout l : {Layout::contiguous, Layout::stepped}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " D=" << D << " " << layout_name(l));
        const std::vector<int64_t> shape = {3, D};
        const HostTensor x = random(shape, t, seed++, -3, 3), y = random({D}, t, seed++, -2, 2);
        const HostTensor w = random({D}, DType::f32, seed++, 0.5, 1.5);
        Tensor X = upload(s, x, t, l), Y = upload(s, y, t), W = upload(s, w, DType::f32);
        GuardedOutput add(s, shape, t, l), sm(s, shape, t), ge(s, shape, t, l), sc(s, shape, t);
        ops::add(s, X, Y, add.tensor());
        ops::silu_mul(s, X, Y, sm.tensor());
        ops::gelu(s, X, ge.tensor(), true);
        ops::scale(s, X, 0.75f, sc.tensor());
        EXPECT_TRUE(close(add.result(s), ref::cast(ref::binary(ref::Binary::add, x, y, shape), t),
                          OpClass::elementwise, t));
        EXPECT_TRUE(
            close(sm.result(s), ref::binary(ref::Binary::silu_mul, x, y, shape), OpClass::elementwise, t));
        EXPECT_TRUE(
            close(ge.result(s), ref::cast(ref::unary(ref::Unary::gelu_tanh, x), t), OpClass::elementwise, t));
        EXPECT_TRUE(close(sc.result(s), ref::unary(ref::Unary::scale, x, 0.75), OpClass::elementwise, t));
        GuardedOutput rn(s, shape, t, l), ln(s, shape, t), so(s, shape, t, l);
        ops::rms_norm(s, X, W, rn.tensor());
        ops::layer_norm(s, X, W, &Y, ln.tensor());
        EXPECT_TRUE(close(rn.result(s), ref::rms_norm(x, w, 1e-6), OpClass::reduction, t));
        EXPECT_TRUE(close(ln.result(s), ref::layer_norm(x, w, &y, 1e-5), OpClass::reduction, t));
        if (supports("softmax", t)) {
          ops::softmax(s, X, so.tensor(), 1.25f);
          EXPECT_TRUE(close(so.result(s), ref::softmax(x, 1.25, nullptr), OpClass::reduction, t));
        }
        for (DType to : {DType::f32, DType::f16, DType::bf16, DType::i8}) {
          if (!supports(to)) continue;
          GuardedOutput c(s, shape, to, l);
          ops::cast(s, X, c.tensor());
          EXPECT_TRUE(equal(c.result(s), ref::cast(x, to))) << "cast to " << dtype_name(to);
        }
        GuardedOutput cp(s, shape, t), fl(s, shape, t, l), am(s, {3}, DType::i32);
        ops::copy(s, X, cp.tensor());
        ops::fill(s, fl.tensor(), -1.5);
        ops::argmax(s, X, am.tensor());
        HostTensor minus(shape);
        for (auto& e : minus.v) e = -1.5;
        EXPECT_TRUE(equal(cp.result(s), x));
        EXPECT_TRUE(equal(fl.result(s), minus));
        EXPECT_TRUE(equal(am.result(s), as_host(ref::argmax(x), {3})));
        std::vector<int32_t> ids = {2, -1, 0, 1, 3};
        GuardedOutput em(s, {5, D}, t, l);
        ops::embedding(s, X, Tensor::from_host(s, DType::i32, {5}, ids.data()), em.tensor());
        EXPECT_TRUE(equal(em.result(s), ref::embedding(x, ids, {5})));
      }
  }
}

// rope over head and rotary dims around SIMD widths, odd D (the last dim passes through),
// both styles, strided and in place.
TEST_P(Probes, RopeRotaryDimTails) {
  Stream s(device());
  uint32_t seed = 8500;
  struct Dims {
    int64_t D;
    int rot;
  };
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    for (const Dims& dm :
         {Dims{2, 2}, Dims{17, 16}, Dims{34, 34}, Dims{65, 64}, Dims{96, 18}, Dims{128, 126}})
      for (auto style : {ops::RopeStyle::neox, ops::RopeStyle::gptj})
        for (bool in_place : {false, true}) {
          SCOPED_TRACE(::testing::Message()
                       << dtype_name(t) << " D=" << dm.D << " rot=" << dm.rot << " style "
                       << static_cast<int>(style) << " in_place " << in_place);
          const int64_t B = 1, H = 2, S = 5;
          const HostTensor x = random({B, H, S, dm.D}, t, seed++);
          std::vector<int32_t> pos = {0, 1, 7, 300, 4095};
          Tensor P = Tensor::from_host(s, DType::i32, {S}, pos.data());
          ops::RopeOptions opt;
          opt.style = style;
          opt.rotary_dim = dm.rot;
          GuardedOutput o(s, {B, H, S, dm.D}, t, Layout::stepped);
          if (in_place) {
            o.set(s, x);
            ops::rope(s, o.tensor(), P, o.tensor(), opt);
          } else {
            ops::rope(s, upload(s, x, t, Layout::padded), P, o.tensor(), opt);
          }
          EXPECT_TRUE(
              close(o.result(s), ref::rope(x, pos, false, style, 10000.0, dm.rot), OpClass::reduction, t));
        }
  }
}

// Correct rounding of a double to f16/bf16, computed without porta's conversions:
// the nearer of the two neighbouring representable values, ties to the even pattern.
double round_half(double v, DType t) {
  auto decode = [t](uint32_t bits) {
    return t == DType::bf16 ? static_cast<double>(bf16_to_float(static_cast<uint16_t>(bits)))
                            : static_cast<double>(f16_to_float(static_cast<uint16_t>(bits)));
  };
  // Positive finite v below the format's max: scan from a nearby pattern.
  uint32_t lo = 0;
  for (uint32_t step = 1u << 14; step; step >>= 1)
    if (lo + step < 0x7c00u && decode(lo + step) <= v) lo += step;
  const double a = decode(lo), b = decode(lo + 1);
  if (v - a < b - v) return a;
  if (b - v < v - a) return b;
  return (lo & 1u) ? b : a;
}

TEST_P(Probes, DoubleValuesRoundOnceToHalf) {
  Stream s(device());
  // Each value lies just above a half-way point of the target format, but the f32 nearest
  // to it lies exactly on that point, so rounding through f32 first gives the lower neighbour.
  struct Case {
    DType t;
    double v;
  };
  const Case cases[] = {{DType::bf16, 1.0 + 0x1p-8 + 0x1p-30},
                        {DType::f16, 1.0 + 0x1p-11 + 0x1p-40},
                        {DType::bf16, 16842753.0}};
  for (const auto& c : cases) {
    if (!supports(c.t)) continue;
    const double want = round_half(c.v, c.t);
    SCOPED_TRACE(::testing::Message()
                 << dtype_name(c.t) << " value " << c.v << " correctly rounded " << want);
    GuardedOutput f(s, {3}, c.t);
    ops::fill(s, f.tensor(), c.v);
    const HostTensor got = f.result(s);
    EXPECT_EQ(got[0], want) << "fill rounded twice (through f32)";
    if (c.v == std::floor(c.v) && supports(DType::i32)) {  // the same value as an i32 cast to c.t
      const int32_t iv = static_cast<int32_t>(c.v);
      GuardedOutput o(s, {1}, c.t);
      ops::cast(s, Tensor::from_host(s, DType::i32, {1}, &iv), o.tensor());
      EXPECT_EQ(o.result(s)[0], want) << "cast i32 -> " << dtype_name(c.t) << " rounded twice (through f32)";
    }
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Probes);
PORTA_INSTANTIATE_ON_DEVICES(Probes);

}  // namespace
}  // namespace porta::test
