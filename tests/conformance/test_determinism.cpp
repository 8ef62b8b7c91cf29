// Run-to-run reproducibility (issue 12, item 5): every op, run twice on one device into
// freshly poisoned outputs, gives the same bits. The shapes take the reductions that are
// split across threads or workgroups: split-K GEMM (small M x N, deep K), Vulkan's multi-pass
// K past lavapipe's loop budget, split-KV decode attention (long KV, few heads).
//
// PORTA_TEST_DIGEST_FILE=<path> appends one "case hash" line per output: determinism.cmake
// runs this suite under several PORTA_CPU_THREADS / POCL_MAX_PTHREAD_COUNT values with
// PORTA_DETERMINISTIC=1 and requires the same hashes (the split is then the shape's alone).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "porta/quant.h"
#include "porta/serving.h"
#include "support/harness.h"

namespace porta::test {
namespace {

class Determinism : public DeviceTest {
 protected:
  // Runs `op` into two poisoned outputs of `shape`/`t` and requires bitwise equal results.
  void twice(Stream& s, const std::string& name, const std::vector<int64_t>& shape, DType t,
             const std::function<void(Tensor&)>& op) {
    SCOPED_TRACE(name);
    GuardedOutput o1(s, shape, t), o2(s, shape, t);
    op(o1.tensor());
    op(o2.tensor());
    const HostTensor r1 = o1.result(s), r2 = o2.result(s);
    ASSERT_EQ(r1.v.size(), r2.v.size());
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < r1.v.size(); ++i)
      if (std::memcmp(&r1.v[i], &r2.v[i], sizeof(double)) != 0 && differ++ == 0) first = i;
    EXPECT_EQ(differ, 0u) << name << ": " << differ << " of " << r1.v.size()
                          << " elements differ between two runs; first at " << first << " (" << r1.v[first]
                          << " vs " << r2.v[first] << ")";
    size_t nonfinite = 0;
    for (double x : r1.v) nonfinite += !std::isfinite(x);
    EXPECT_EQ(nonfinite, 0u) << name << ": outputs left poisoned";
    record(name, r1);
  }

 private:
  // FNV-1a over the values' bytes, appended to PORTA_TEST_DIGEST_FILE when set.
  void record(const std::string& name, const HostTensor& r) {
    const char* path = std::getenv("PORTA_TEST_DIGEST_FILE");
    if (!path || !*path) return;
    uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(r.v.data());
    for (size_t i = 0; i < r.v.size() * sizeof(double); ++i) h = (h ^ p[i]) * 1099511628211ull;
    if (FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "%s %s %016llx\n", device().description().c_str(), name.c_str(),
                   static_cast<unsigned long long>(h));
      std::fclose(f);
    }
  }
};

TEST_P(Determinism, GemmSplitK) {
  Stream s(device());
  struct Case {
    int64_t batch, M, N, K;
    DType t;
  };
  // Deep K over few tiles: split-K on CUDA, OpenCL and Vulkan's GPU rows; K = 70,000 takes
  // Vulkan's multi-pass path on lavapipe (past 65,535 loop iterations per invocation).
  for (const Case c : {Case{1, 3, 5, 4096, DType::f32}, Case{1, 2, 8, 70000, DType::f32},
                       Case{2, 17, 40, 3000, DType::bf16}, Case{1, 4, 24, 5000, DType::f16}}) {
    if (!supports("gemm", c.t)) continue;
    const HostTensor a = random({c.batch, c.M, c.K}, c.t, 11), b = random({c.batch, c.K, c.N}, c.t, 12);
    const Tensor A = upload(s, a, c.t), B = upload(s, b, c.t);
    twice(s, "gemm " + shape_str({c.batch, c.M, c.N, c.K}) + " " + dtype_name(c.t), {c.batch, c.M, c.N},
          DType::f32, [&](Tensor& out) { ops::gemm(s, A, B, out); });
  }
}

TEST_P(Determinism, AttentionSplitKv) {
  Stream s(device());
  struct Case {
    int64_t B, Hq, Hkv, Sq, Skv;
    bool causal;
    DType t;
  };
  const int64_t D = 64;
  // Decode (Sq 1-2, long KV, few heads: split-KV everywhere) and a short causal prefill.
  for (const Case c : {Case{2, 8, 2, 1, 3000, false, DType::f32}, Case{1, 4, 1, 2, 2500, true, DType::f16},
                       Case{1, 4, 2, 40, 300, true, DType::f32}}) {
    if (!supports("attention", c.t)) continue;
    const HostTensor q = random({c.B, c.Hq, c.Sq, D}, c.t, 21), k = random({c.B, c.Hkv, c.Skv, D}, c.t, 22),
                     v = random({c.B, c.Hkv, c.Skv, D}, c.t, 23);
    const Tensor Q = upload(s, q, c.t), K = upload(s, k, c.t), V = upload(s, v, c.t);
    ops::AttentionOptions o;
    o.causal = c.causal;
    twice(s, "attention " + shape_str({c.B, c.Hq, c.Hkv, c.Sq, c.Skv}) + " " + dtype_name(c.t),
          {c.B, c.Hq, c.Sq, D}, c.t, [&](Tensor& out) { ops::attention(s, Q, K, V, out, o); });
  }
}

// Decode over a paged cache (two sequences, one query each, 2,000 and 1,500 keys): split-KV.
TEST_P(Determinism, PagedAttentionSplitKv) {
  Stream s(device());
  const int64_t Hq = 8, Hkv = 2, D = 64, bs = 16;
  const std::vector<int32_t> lens = {2000, 1500};
  const int64_t max_blocks = (lens[0] + bs - 1) / bs, nb = max_blocks + (lens[1] + bs - 1) / bs;
  std::vector<int32_t> table(static_cast<size_t>(2 * max_blocks), -1);
  for (int64_t j = 0, next = 0; j < 2; ++j)
    for (int64_t i = 0; i < (lens[static_cast<size_t>(j)] + bs - 1) / bs; ++i)
      table[static_cast<size_t>(j * max_blocks + i)] = static_cast<int32_t>(next++);
  const int32_t cu[3] = {0, 1, 2};
  KvCache c;
  c.k = upload(s, random({nb, bs, Hkv, D}, DType::f32, 41), DType::f32);
  c.v = upload(s, random({nb, bs, Hkv, D}, DType::f32, 42), DType::f32);
  const Tensor Q = upload(s, random({2, Hq, D}, DType::f32, 43), DType::f32);
  const Tensor bt = Tensor::from_host(s, DType::i32, {2, max_blocks}, table.data()),
               cq = Tensor::from_host(s, DType::i32, {3}, cu),
               sl = Tensor::from_host(s, DType::i32, {2}, lens.data());
  try {
    twice(s, "paged_attention", {2, Hq, D}, DType::f32,
          [&](Tensor& out) { ops::paged_attention(s, Q, c, bt, cq, sl, 1, lens[0], out); });
  } catch (const Error& e) {
    if (e.code() == Errc::unsupported && std::string(e.what()).find("not implemented") != std::string::npos)
      GTEST_SKIP() << e.what();
    throw;
  }
}

// Quantized weights: the GEMV (M <= 16, K split across work-items on some backends) and the
// dequantize-then-GEMM path (M 40), int4 g128 and int8 per channel.
TEST_P(Determinism, QuantGemm) {
  Stream s(device());
  const int64_t N = 48, K = 4096;
  const HostTensor w = random({N, K}, DType::f32, 51);
  const Tensor Wt = upload(s, w, DType::f32);
  for (const QuantScheme sc : {QuantScheme{QuantFormat::int4, 128, DType::f16},
                               QuantScheme{QuantFormat::int8, QuantScheme::kPerChannel, DType::f16}}) {
    if (!supports_quant(device(), "gemm", sc.format, DType::f32)) continue;
    const QuantWeight q = ops::quantize(s, Wt, sc);
    for (int64_t M : {1, 40}) {
      const Tensor A = upload(s, random({M, K}, DType::f32, 52), DType::f32);
      twice(s, "quant gemm " + sc.str() + " M=" + std::to_string(M), {M, N}, DType::f32,
            [&](Tensor& out) { ops::gemm(s, A, q, out); });
    }
  }
}

TEST_P(Determinism, RowOps) {
  Stream s(device());
  const int64_t R = 3, D = 5000;
  const HostTensor x = random({R, D}, DType::f32, 31), w = random({D}, DType::f32, 32),
                   b = random({D}, DType::f32, 33);
  const Tensor X = upload(s, x, DType::f32), W = upload(s, w, DType::f32), Bt = upload(s, b, DType::f32);
  twice(s, "rms_norm", {R, D}, DType::f32, [&](Tensor& out) { ops::rms_norm(s, X, W, out); });
  twice(s, "layer_norm", {R, D}, DType::f32, [&](Tensor& out) { ops::layer_norm(s, X, W, &Bt, out); });
  twice(s, "softmax", {R, D}, DType::f32, [&](Tensor& out) { ops::softmax(s, X, out, 0.5f); });
  twice(s, "argmax", {R}, DType::i32, [&](Tensor& out) { ops::argmax(s, X, out); });
  twice(s, "gelu", {R, D}, DType::f32, [&](Tensor& out) { ops::gelu(s, X, out); });
  twice(s, "add", {R, D}, DType::f32, [&](Tensor& out) { ops::add(s, X, W, out); });
}

PORTA_INSTANTIATE_ON_DEVICES(Determinism);

}  // namespace
}  // namespace porta::test
