// Every op leaves its inputs, and the bytes around and between their elements, untouched
// (a kernel that uses an input as scratch space, or writes a padded row's gap, fails).
// Inputs live in guarded, padded buffers; after the op each must read back bit-identical.
#include <cmath>

#include "support/harness.h"

namespace porta::test {
namespace {

class InputsReadOnly : public DeviceTest {};

/// A guarded, padded input holding `h`.
struct In {
  In(Stream& s, const HostTensor& h, DType t) : g(s, h.shape, t, Layout::padded), want(ref::cast(h, t)) {
    g.set(s, h);
  }
  Tensor& operator()() { return g.tensor(); }
  void check(Stream& s, const char* what) {
    EXPECT_TRUE(equal(g.result(s), want)) << what << " changed an input";
  }
  GuardedOutput g;
  HostTensor want;
};

TEST_P(InputsReadOnly, EveryOp) {
  Stream s(device());
  const DType f = DType::f32;
  uint32_t seed = 9990;
  In x(s, random({2, 3, 5, 64}, f, seed++), f), y(s, random({2, 3, 5, 64}, f, seed++), f);
  In w(s, random({64}, f, seed++, 0.5, 1.5), f), b(s, random({64}, f, seed++), f);
  Tensor out = Tensor::empty(device(), f, {2, 3, 5, 64});

  ops::gelu(s, x(), out);
  x.check(s, "gelu");
  ops::silu_mul(s, x(), y(), out);
  x.check(s, "silu_mul");
  y.check(s, "silu_mul");
  ops::add(s, x(), y(), out);
  ops::mul(s, x(), y(), out);
  ops::scale(s, x(), 3.0f, out);
  x.check(s, "add/mul/scale");
  y.check(s, "add/mul");
  ops::rms_norm(s, x(), w(), out);
  ops::layer_norm(s, x(), w(), &b(), out);
  x.check(s, "norms");
  w.check(s, "norms (weight)");
  b.check(s, "layer_norm (bias)");
  In mask(s, random({5, 64}, f, seed++), f);
  ops::softmax(s, x(), out, 0.5f, &mask());
  x.check(s, "softmax");
  mask.check(s, "softmax (mask)");

  HostTensor pos_h({5});
  for (int64_t i = 0; i < 5; ++i) pos_h[i] = static_cast<double>(i * 100);
  In pos(s, pos_h, DType::i32);
  ops::rope(s, x(), pos(), out);
  x.check(s, "rope");
  pos.check(s, "rope (positions)");

  Tensor out_i8 = Tensor::empty(device(), DType::i8, {2, 3, 5, 64});
  ops::cast(s, x(), out_i8);
  ops::copy(s, x(), out);
  x.check(s, "cast/copy");

  In q(s, random({1, 4, 7, 64}, f, seed++), f), k(s, random({1, 2, 9, 64}, f, seed++), f),
      v(s, random({1, 2, 9, 64}, f, seed++), f);
  HostTensor lens_h({1});
  lens_h[0] = 8;
  In lens(s, lens_h, DType::i32);
  Tensor att = Tensor::empty(device(), f, {1, 4, 7, 64});
  ops::AttentionOptions ao;
  ao.kv_lens = &lens();
  ao.causal = true;
  ops::attention(s, q(), k(), v(), att, ao);
  Tensor dec = Tensor::empty(device(), f, {1, 4, 1, 64});
  Tensor q1 = q().slice(2, 0, 1);
  ops::attention(s, q1, k(), v(), dec, ao);
  q.check(s, "attention (q)");
  k.check(s, "attention (k)");
  v.check(s, "attention (v)");
  lens.check(s, "attention (kv_lens)");

  In a(s, random({20, 40}, f, seed++), f), bm(s, random({40, 33}, f, seed++), f),
      bias(s, random({33}, f, seed++), f);
  Tensor c = Tensor::empty(device(), f, {20, 33}), c1 = Tensor::empty(device(), f, {1, 33});
  ops::GemmOptions go;
  go.bias = &bias();
  go.activation = ops::Activation::gelu;
  ops::gemm(s, a(), bm(), c, go);
  Tensor a1 = a().slice(0, 0, 1);
  ops::gemm(s, a1, bm(), c1, go);  // small-M path
  a.check(s, "gemm (A)");
  bm.check(s, "gemm (B)");
  bias.check(s, "gemm (bias)");

  HostTensor ids_h({2, 3});
  for (int64_t i = 0; i < 6; ++i) ids_h[i] = static_cast<double>((i * 7) % 25) - 2;
  In ids(s, ids_h, DType::i32), table(s, random({20, 33}, f, seed++), f);
  Tensor emb = Tensor::empty(device(), f, {2, 3, 33});
  ops::embedding(s, table(), ids(), emb);
  ids.check(s, "embedding (ids)");
  table.check(s, "embedding (table)");

  Tensor am = Tensor::empty(device(), DType::i32, {2, 3, 5});
  ops::argmax(s, x(), am);
  x.check(s, "argmax");
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(InputsReadOnly);
PORTA_INSTANTIATE_ON_DEVICES(InputsReadOnly);

}  // namespace
}  // namespace porta::test
