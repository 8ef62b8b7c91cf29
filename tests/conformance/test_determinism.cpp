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
