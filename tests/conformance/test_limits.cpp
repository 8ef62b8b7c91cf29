// Shapes at and past the limits of one dispatch (issue 12): long K with tiny M and N, more
// batches or heads than one grid dimension holds (65,535), long KV sequences, long rows.
// Devices cap a grid dimension at 65,535 workgroups, and lavapipe stops any shader loop
// after 65,535 back-edges; a backend must split such work or refuse it, never return a
// truncated sum. The GEMM cases use small integers so every expected value is exact.
#include <cstdlib>
#include <string>

#include "support/harness.h"

namespace porta::test {
namespace {

class Limits : public DeviceTest {};

// Small integers (exact in f16 and bf16), patterned so a chunk read twice or skipped changes
// the sum.
double a_val(int64_t m, int64_t k) { return static_cast<double>((m * 7 + k * 3) % 5) - 2.0; }
double b_val(int64_t k, int64_t n) { return static_cast<double>((k * 5 + n) % 3); }

void long_k(Stream& s, int64_t M, int64_t N, int64_t K, DType t, bool trans_b) {
  SCOPED_TRACE(::testing::Message() << "gemm M=" << M << " N=" << N << " K=" << K << " " << dtype_name(t)
                                    << (trans_b ? " B^T" : ""));
  HostTensor a({M, K}), b(trans_b ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) a[m * K + k] = a_val(m, k);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) b[trans_b ? n * K + k : k * N + n] = b_val(k, n);
  HostTensor want({M, N});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int64_t acc = 0;  // exact: every partial sum stays far below 2^24
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<int64_t>(a_val(m, k)) * static_cast<int64_t>(b_val(k, n));
      want[m * N + n] = static_cast<double>(acc);
    }
  GuardedOutput c(s, {M, N}, DType::f32);
  ops::GemmOptions o;
  o.trans_b = trans_b;
  ops::gemm(s, upload(s, a, t), upload(s, b, t), c.tensor(), o);
  EXPECT_TRUE(equal(c.result(s), want));
}

TEST_P(Limits, GemmLongK) {
  Stream s(device());
  for (int64_t M : {1, 4, 17})
    for (bool tb : {false, true}) long_k(s, M, 8, 65537, DType::f32, tb);
  for (bool tb : {false, true}) long_k(s, 17, 8, 262147, DType::f32, tb);
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports(t)) continue;
    for (int64_t M : {1, 17})
      for (bool tb : {false, true}) long_k(s, M, 8, 131073, t, tb);
  }
}

TEST_P(Limits, GemmManyBatches) {
  Stream s(device());
  const int64_t B = 65537, M = 2, K = 3, N = 2;
  HostTensor a({B, M, K}), b({B, K, N});
  for (int64_t i = 0; i < a.numel(); ++i) a[i] = static_cast<double>(i % 7) - 3.0;
  for (int64_t i = 0; i < b.numel(); ++i) b[i] = static_cast<double>(i % 5) - 2.0;
  GuardedOutput c(s, {B, M, N}, DType::f32);
  ops::gemm(s, upload(s, a, DType::f32), upload(s, b, DType::f32), c.tensor());
  EXPECT_TRUE(equal(c.result(s), ref::gemm(a, b, {}, {B, M, N}, 1, 0, nullptr, ops::Activation::none)));
}

void attention_case(Stream& s, int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Skv, int64_t D,
                    bool causal, const std::vector<int32_t>& lens, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "attention B=" << B << " Hq=" << Hq << " Hkv=" << Hkv << " Sq=" << Sq
                                    << " Skv=" << Skv << " D=" << D << " causal=" << causal
                                    << " lens=" << lens.size());
  const HostTensor q = random({B, Hq, Sq, D}, DType::f32, seed);
  const HostTensor k = random({B, Hkv, Skv, D}, DType::f32, seed + 1);
  const HostTensor v = random({B, Hkv, Skv, D}, DType::f32, seed + 2);
  GuardedOutput out(s, {B, Hq, Sq, D}, DType::f32);
  check_attention(s, q, k, v, upload(s, q, DType::f32), upload(s, k, DType::f32), upload(s, v, DType::f32),
                  out, DType::f32, causal, lens);
}

TEST_P(Limits, AttentionManyHeads) {
  Stream s(device());
  attention_case(s, 1, 65537, 1, 1, 3, 64, false, {}, 8000);  // one query row per head
  // B*H past 65,535 with each below, and split-KV row chunks, cost minutes each on lavapipe
  // at full size; PORTA_VULKAN_MAX_GROUPS reaches those paths with small shapes.
}

TEST_P(Limits, AttentionLongKv) {
  Stream s(device());
  attention_case(s, 1, 1, 1, 1, 70001, 64, false, {}, 8100);              // decode
  attention_case(s, 2, 2, 1, 17, 70001, 64, true, {70001, 50003}, 8110);  // prefill, ragged, causal
  // One prefill workgroup walking 4,000 keys: past llvmpipe's loop limit at D = 128.
  attention_case(s, 1, 2, 2, 16, 4000, 128, false, {}, 8120);
}

// Long rows through rms_norm, layer_norm, softmax and argmax. One invocation per 64-128 row
// elements sweeping the row two or three times passes lavapipe's 65,535 loop iterations from
// about 1.4M (layer_norm, softmax) / 2.1M (rms_norm, argmax) elements on; there the rows are
// split into chunks (statistics per chunk, then a pass that folds them), elsewhere they run
// whole. Two rows so the split path's row indexing is checked too.
TEST_P(Limits, LongRows) {
  Stream s(device());
  const int64_t R = 2, D = 2200001;
  const HostTensor x = random({R, D}, DType::f32, 8200, -4, 4), w = random({D}, DType::f32, 8201, 0.5, 1.5),
                   b = random({D}, DType::f32, 8202);
  const Tensor X = upload(s, x, DType::f32), W = upload(s, w, DType::f32), Bt = upload(s, b, DType::f32);
  GuardedOutput rn(s, {R, D}, DType::f32), ln(s, {R, D}, DType::f32), sm(s, {R, D}, DType::f32),
      am(s, {R}, DType::i32);
  ops::rms_norm(s, X, W, rn.tensor());
  EXPECT_TRUE(close(rn.result(s), ref::rms_norm(x, w, 1e-6), OpClass::reduction, DType::f32));
  ops::layer_norm(s, X, W, &Bt, ln.tensor(), 1e-5f);
  EXPECT_TRUE(close(ln.result(s), ref::layer_norm(x, w, &b, 1e-5), OpClass::reduction, DType::f32));
  ops::softmax(s, X, sm.tensor(), 1.5f);
  EXPECT_TRUE(close(sm.result(s), ref::softmax(x, 1.5, nullptr), OpClass::reduction, DType::f32));
  ops::argmax(s, X, am.tensor());
  HostTensor want({R});
  const std::vector<int32_t> idx = ref::argmax(x);
  for (int64_t r = 0; r < R; ++r) want[r] = static_cast<double>(idx[static_cast<size_t>(r)]);
  EXPECT_TRUE(equal(am.result(s), want));
}

}  // namespace

PORTA_INSTANTIATE_ON_DEVICES(Limits);

}  // namespace porta::test
