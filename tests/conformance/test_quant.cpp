// Quantized weights against the float64 reference: dequantize exactly, gemm with a quantized
// weight (pairwise over format x group x activation dtype x shape, with epilogues, act-order
// permutations, strided operands and tensor-parallel views), embedding from a quantized
// table, and quantize -> dequantize within each format's stated error bound. The reference
// decodes the canonical layout (porta/quant.h) here, independently of porta's own code.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "porta/quant.h"
#include "support/harness.h"

namespace porta::test {
namespace {

class Quant : public DeviceTest {
 protected:
  /// Skips the whole test when the device runs none of the quantized ops (honestly: not a pass).
  void SetUp() override {
    bool any = false;
    for (int f = 0; f < kNumQuantFormats; ++f)
      any = any || supports_quant(device(), "gemm", static_cast<QuantFormat>(f), DType::f32);
    if (!any)
      GTEST_SKIP() << device().description() << " runs no quantized-weight op (supports_quant is false)";
  }
  bool runs(const char* op, QuantFormat f, DType t) const { return supports_quant(device(), op, f, t); }
};

const QuantFormat kFormats[] = {QuantFormat::int8, QuantFormat::int4, QuantFormat::int4_zp,
                                QuantFormat::fp8_e4m3fn};

bool nibbles(QuantFormat f) { return f == QuantFormat::int4 || f == QuantFormat::int4_zp; }

// ---- the reference decoder of the canonical layout ----

double fp8_ref(uint8_t c) {
  const int e = (c >> 3) & 15, m = c & 7;
  if (e == 15 && m == 7) return std::nan("");
  const double v = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
  return c & 0x80 ? -v : v;
}

/// Element (n, j) of the weight (code-column order).
double ref_value(const QuantHostWeight& h, int64_t n, int64_t j) {
  const QuantFormat f = h.scheme.format;
  const int64_t rb = nibbles(f) ? (h.k + 1) / 2 : h.k;
  const int64_t G = h.scheme.group > 0 ? h.k / h.scheme.group : 1;
  const int64_t g = h.scheme.group > 0 ? j / h.scheme.group : 0;
  const double s =
      h.scheme.group == QuantScheme::kPerTensor ? h.scales[0] : h.scales[static_cast<size_t>(n * G + g)];
  const uint8_t byte = h.codes[static_cast<size_t>(n * rb + (nibbles(f) ? j / 2 : j))];
  const int nib = j % 2 ? byte >> 4 : byte & 15;
  switch (f) {
    case QuantFormat::int8: return static_cast<int8_t>(byte) * s;
    case QuantFormat::int4: return (nib - 8) * s;
    case QuantFormat::int4_zp: return (nib - h.zeros[static_cast<size_t>(n * G + g)]) * s;
    case QuantFormat::fp8_e4m3fn: return fp8_ref(byte) * s;
  }
  return 0;
}

/// The dense weight [N, K] in activation order (the permutation undone), as the gemm reference's B = Wᵀ [K,
/// N].
HostTensor ref_weight_t(const QuantHostWeight& h) {
  HostTensor b({h.k, h.n});
  for (int64_t n = 0; n < h.n; ++n)
    for (int64_t j = 0; j < h.k; ++j) {
      const int64_t kk = h.perm.empty() ? j : h.perm[static_cast<size_t>(j)];
      b[kk * h.n + n] = ref_value(h, n, j);
    }
  return b;
}

/// Random codes and scales (rounded to the scale dtype), as a checkpoint would hold.
QuantHostWeight random_weight(const QuantScheme& sc, int64_t n, int64_t k, uint32_t seed, bool perm = false) {
  std::mt19937 rng(seed);
  QuantHostWeight h;
  h.scheme = sc;
  h.n = n;
  h.k = k;
  const int64_t rb = nibbles(sc.format) ? (k + 1) / 2 : k;
  const int64_t G = sc.group > 0 ? k / sc.group : 1;
  h.codes.resize(static_cast<size_t>(n * rb));
  for (auto& c : h.codes) {
    c = static_cast<uint8_t>(rng());
    if (sc.format == QuantFormat::fp8_e4m3fn && (c & 0x7f) == 0x7f) c ^= 1;  // no NaN codes
  }
  if (nibbles(sc.format) && k % 2)  // the unused high nibble of an odd row stays 0, per the layout
    for (int64_t r = 0; r < n; ++r) h.codes[static_cast<size_t>(r * rb + rb - 1)] &= 0x0f;
  h.scales.resize(static_cast<size_t>(sc.group == QuantScheme::kPerTensor ? 1 : n * G));
  std::vector<uint8_t> tmp(4);
  for (auto& s : h.scales) {
    const double v = (0.5 + (rng() % 1000) / 1000.0) * (sc.format == QuantFormat::int8 ? 0.01 : 0.1);
    store_from_double(sc.scale_dtype, tmp.data(), 0, v);
    s = static_cast<float>(load_as_double(sc.scale_dtype, tmp.data(), 0));
  }
  if (sc.format == QuantFormat::int4_zp) {
    h.zeros.resize(static_cast<size_t>(n * G));
    for (auto& z : h.zeros) z = static_cast<float>(rng() % 16);
  }
  if (perm) {
    h.perm.resize(static_cast<size_t>(k));
    for (int64_t j = 0; j < k; ++j) h.perm[static_cast<size_t>(j)] = static_cast<int32_t>(j);
    std::shuffle(h.perm.begin(), h.perm.end(), rng);
  }
  return h;
}

/// What a kernel computing in f32 and rounding once to t produces from an exact double.
double round_f32_then(double v, DType t) {
  std::vector<uint8_t> tmp(4);
  store_from_double(t, tmp.data(), 0, static_cast<double>(static_cast<float>(v)));
  return load_as_double(t, tmp.data(), 0);
}

std::string scheme_name(const QuantScheme& s) { return s.str(); }

// ---- dequantize ----

TEST_P(Quant, DequantizeIsExact) {
  Stream s(device());
  uint32_t seed = 1;
  const DType outs[] = {DType::f32, DType::f16, DType::bf16};
  const int groups[] = {32, 64, 128, QuantScheme::kPerChannel};
  int ran = 0;
  for (QuantFormat f : kFormats)
    for (int gi = 0; gi < 4; ++gi) {
      QuantScheme sc{f, groups[gi], gi == 2 ? DType::bf16 : gi == 3 ? DType::f32 : DType::f16};
      const DType t = outs[(static_cast<int>(f) + gi) % 3];
      if (!runs("dequantize", f, t)) continue;
      const int64_t n = gi == 3 ? 7 : 33, k = gi == 3 ? 45 : sc.group * (gi + 1);
      SCOPED_TRACE(scheme_name(sc) + " -> " + dtype_name(t));
      const QuantHostWeight h = random_weight(sc, n, k, seed++);
      QuantWeight w = QuantWeight::from_host(s, h);
      GuardedOutput out(s, {n, k}, t, gi % 2 ? Layout::padded : Layout::contiguous);
      ops::dequantize(s, w, out.tensor());
      HostTensor want({n, k});
      for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < k; ++j) want[r * k + j] = round_f32_then(ref_value(h, r, j), t);
      EXPECT_TRUE(equal(out.result(s), want));
      ++ran;
    }
  if (ran == 0) GTEST_SKIP() << "no dequantize case runs on " << device().description();
}

TEST_P(Quant, HostRoundTripAndPerTensor) {
  Stream s(device());
  const QuantScheme sc{QuantFormat::fp8_e4m3fn, QuantScheme::kPerTensor, DType::f32};
  if (!runs("dequantize", sc.format, DType::f32)) GTEST_SKIP() << "fp8 dequantize unsupported";
  const QuantHostWeight h = random_weight(sc, 9, 40, 77);
  QuantWeight w = QuantWeight::from_host(s, h);
  const QuantHostWeight back = w.to_host(s);
  EXPECT_EQ(back.codes, h.codes);
  EXPECT_EQ(back.scales, h.scales);
  GuardedOutput out(s, {9, 40}, DType::f32);
  ops::dequantize(s, w, out.tensor());
  HostTensor want({9, 40});
  for (int64_t r = 0; r < 9; ++r)
    for (int64_t j = 0; j < 40; ++j) want[r * 40 + j] = round_f32_then(ref_value(h, r, j), DType::f32);
  EXPECT_TRUE(equal(out.result(s), want));
}

// ---- gemm ----

struct QGemmCase {
  QuantScheme scheme;
  int64_t M, N, K;
  DType t;  // activations and output
  std::vector<int64_t> batch = {};
  bool perm = false;
  float alpha = 1.0f, beta = 0.0f;
  bool bias = false;
  ops::Activation act = ops::Activation::none;
  Layout la = Layout::contiguous, lc = Layout::contiguous;
};

void run_gemm(Stream& s, const QGemmCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << scheme_name(c.scheme) << " M=" << c.M << " N=" << c.N << " K=" << c.K
                                    << " " << dtype_name(c.t) << " perm " << c.perm << " beta " << c.beta
                                    << " bias " << c.bias << " act " << static_cast<int>(c.act) << " layouts "
                                    << layout_name(c.la) << "/" << layout_name(c.lc));
  const QuantHostWeight h = random_weight(c.scheme, c.N, c.K, seed, c.perm);
  const HostTensor a = random(cat(c.batch, {c.M, c.K}), c.t, seed + 1);
  const auto c_shape = cat(c.batch, {c.M, c.N});
  const HostTensor c_old = random(c_shape, c.t, seed + 2);
  const HostTensor bias = random({c.N}, DType::f32, seed + 3);
  QuantWeight w = QuantWeight::from_host(s, h);
  Tensor A = upload(s, a, c.t, c.la);
  Tensor bias_t = upload(s, bias, DType::f32);
  GuardedOutput C(s, c_shape, c.t, c.lc);
  if (c.beta != 0.0f) C.set(s, c_old);
  ops::QuantGemmOptions o;
  o.alpha = c.alpha;
  o.beta = c.beta;
  o.bias = c.bias ? &bias_t : nullptr;
  o.activation = c.act;
  ops::gemm(s, A, w, C.tensor(), o);
  const HostTensor want =
      ref::gemm(a, ref_weight_t(h), c_old, c_shape, c.alpha, c.beta, c.bias ? &bias : nullptr, c.act);
  EXPECT_TRUE(close(C.result(s), want, OpClass::matmul, c.t, c.act != ops::Activation::relu));
}

// Pairwise: every (format, group), (format, dtype), (format, M), (group, M), (M, shape) pair
// appears in some case; the factors advance at coprime rates over one list.
TEST_P(Quant, GemmPairwise) {
  Stream s(device());
  const int groups[] = {32, 64, 128, QuantScheme::kPerChannel};
  const DType dtypes[] = {DType::f32, DType::f16, DType::bf16};
  const int64_t Ms[] = {1, 7, 16, 17, 300};
  const int64_t sizes[] = {1, 7, 33};  // N, and K in groups
  uint32_t seed = 1000;
  int ran = 0, skipped = 0;
  for (int i = 0; i < 60; ++i) {
    const QuantFormat f = kFormats[i % 4];
    const int g = groups[(i / 4) % 4];
    const DType t = dtypes[(i + i / 12) % 3];
    const int64_t M = Ms[(i + i / 20) % 5];
    const int64_t N = sizes[(i / 3) % 3], kg = sizes[(i / 5 + i) % 3];
    // K: groups x group; per channel an odd K (int4 rows end on half a byte).
    const int64_t K = g > 0 ? kg * g : kg * 13 + 2;
    if (M == 300 && N * K > 33 * 33 * 32) continue;  // keep large-M cases cheap on emulated devices
    QGemmCase c{{f, g, DType::f16}, M, N, K, t};
    if (!runs("gemm", f, t)) {
      ++skipped;
      continue;
    }
    run_gemm(s, c, seed++);
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no quantized gemm case runs on " << device().description();
  if (skipped)
    std::printf("  %d of %d cases not supported on %s\n", skipped, ran + skipped,
                device().description().c_str());
}

// Groups of 32 and 64 (GGUF Q4_0/Q8_0, porta-run's load-time quantization) at decode M on
// odd N and on K that ends mid-way through a 128-weight block and holds a number of groups
// that is not a multiple of 16 (kernels may read scales 16 groups at a time), every scale
// dtype, with act-order, bias and a strided output.
TEST_P(Quant, GemvSmallGroupsOddShapes) {
  Stream s(device());
  uint32_t seed = 3000;
  const DType sdt[] = {DType::f16, DType::bf16, DType::f32};
  const int64_t Ms[] = {1, 3, 16, 2};
  int ran = 0, i = 0;
  for (const QuantFormat f : kFormats)
    for (const int g : {32, 64}) {
      for (const auto& [N, kg] : {std::pair<int64_t, int64_t>{7, 37}, {33, 5}, {5, 19}}) {
        const QuantScheme sc{f, g, sdt[i % 3]};
        const int64_t M = Ms[i % 4];
        const bool extras = i % 5 == 2;
        ++i;
        if (!runs("gemm", f, DType::f32)) continue;
        QGemmCase c{sc, M, N, kg * g, DType::f32};
        if (extras) {
          c.perm = true, c.bias = true, c.act = ops::Activation::silu, c.lc = Layout::padded;
        }
        run_gemm(s, c, seed++);
        ++ran;
      }
    }
  if (ran == 0) GTEST_SKIP() << "no quantized gemm case runs on " << device().description();
}

// M = 1 rows long enough that per-row scale buffers refill (more than 16 groups or 128-element
// spans: the cpu AVX2 digits kernel refills 16 at a time), a tail past the last 64-element
// block (per channel, odd K), and every activation dtype (its f16 / bf16 split keeps fewer digits).
TEST_P(Quant, GemvLongRowsEveryActivationDtype) {
  Stream s(device());
  uint32_t seed = 3500;
  int ran = 0;
  for (const QuantFormat f : {QuantFormat::int4, QuantFormat::int4_zp, QuantFormat::int8})
    for (const int g : {128, 32, 64, QuantScheme::kPerChannel})
      for (const DType t : {DType::f32, DType::f16, DType::bf16}) {
        if (!runs("gemm", f, t)) continue;
        // Groups of 32: 33 of them leave a 32-element tail past the last whole 64-element
        // block, in a group the 16-slot scale refills of the cpu digits kernels never reach.
        // Groups of 64: 21 of them end in a 64-element window past the last whole span of
        // 128, inside a refill the cpu AVX2 digits kernel's assembly loop started; one scale
        // per row: the same window (in a span of its own), then a 25-element scalar tail.
        const int64_t K = g == 128 ? 17 * 128 : g == 32 ? 33 * 32 : g == 64 ? 21 * 64 : 17 * 128 + 64 + 25;
        run_gemm(s, QGemmCase{QuantScheme{f, g, DType::f16}, 1, 13, K, t}, seed++);
        ++ran;
      }
  if (ran == 0) GTEST_SKIP() << "no quantized gemm case runs on " << device().description();
}

TEST_P(Quant, GemmLlmShapesAndEpilogues) {
  Stream s(device());
  uint32_t seed = 2000;
  const QuantScheme int4{QuantFormat::int4, 128, DType::f16}, int8{QuantFormat::int8, 128, DType::f16},
      zp{QuantFormat::int4_zp, 64, DType::f16},
      fp8{QuantFormat::fp8_e4m3fn, QuantScheme::kPerChannel, DType::f32};
  std::vector<QGemmCase> cases = {
      {int4, 1, 256, 1024, DType::f32},
      {int4, 16, 96, 512, DType::bf16, {}, false, 0.5f, 0.0f, true, ops::Activation::silu},
      {int8, 5, 100, 384, DType::f16, {}, false, 1.0f, 0.75f, true, ops::Activation::gelu},
      {zp,
       3,
       70,
       256,
       DType::f32,
       {2},
       true,
       1.0f,
       0.0f,
       false,
       ops::Activation::relu,
       Layout::padded,
       Layout::padded},
      {zp, 40, 70, 256, DType::f32, {}, true, 2.0f, 1.0f, true, ops::Activation::none, Layout::stepped},
      {fp8,
       2,
       33,
       200,
       DType::f32,
       {3},
       false,
       1.0f,
       0.0f,
       true,
       ops::Activation::none,
       Layout::contiguous,
       Layout::padded},
      {int4,
       20,
       33,
       256,
       DType::f16,
       {},
       false,
       1.0f,
       0.5f,
       true,
       ops::Activation::silu,
       Layout::padded,
       Layout::stepped},
  };
  int ran = 0;
  for (const auto& c : cases) {
    if (!runs("gemm", c.scheme.format, c.t)) continue;
    run_gemm(s, c, seed++);
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no case runs on " << device().description();
}

// Non-finite activations (an overflowed layer upstream) stay visible and stay in their rows:
// a row holding NaN gives NaN everywhere, a row holding ±Inf gives a non-finite value wherever
// the float64 reference is non-finite (kernels may fold the zero point or split activations,
// so Inf·w + (−Inf)·w' may read NaN where the reference reads ±Inf), and every finite row is
// unchanged. Covers the GEMV (M <= 16) and tiled (M > 16) paths of every format and group.
TEST_P(Quant, GemmNonFiniteActivationsStayInTheirRows) {
  Stream s(device());
  const double inf = std::numeric_limits<double>::infinity();
  const int groups[] = {32, 64, 128, QuantScheme::kPerChannel};
  const DType dtypes[] = {DType::f32, DType::f16, DType::bf16};
  const int64_t Ms[] = {1, 3, 17};
  uint32_t seed = 5000;
  int ran = 0;
  for (int i = 0; i < 24; ++i) {
    const QuantFormat f = kFormats[i % 4];
    const int g = groups[(i / 4) % 4];
    const DType t = dtypes[(i + i / 4) % 3];
    const int64_t M = Ms[(i + i / 12) % 3], N = 33, K = g > 0 ? 3 * g : 200;
    if (!runs("gemm", f, t)) continue;
    SCOPED_TRACE(::testing::Message()
                 << scheme_name({f, g, DType::f16}) << " M=" << M << " " << dtype_name(t));
    const QuantHostWeight h = random_weight({f, g, DType::f16}, N, K, seed);
    HostTensor a = random({M, K}, t, seed + 1);
    // M = 1: the one row holds +Inf; otherwise row 0 NaN, row 1 -Inf and +Inf (NaN in the
    // reference wherever both meet a nonzero weight), the other rows finite.
    std::vector<bool> poisoned(static_cast<size_t>(M), false);
    if (M == 1) {
      a[K / 2] = inf;
      poisoned[0] = true;
    } else {
      a[7] = std::numeric_limits<double>::quiet_NaN();
      a[K + 1] = -inf;
      a[K + K - 1] = inf;
      poisoned[0] = poisoned[1] = true;
    }
    seed += 2;
    QuantWeight w = QuantWeight::from_host(s, h);
    Tensor A = upload(s, a, t);
    GuardedOutput C(s, {M, N}, t);
    ops::gemm(s, A, w, C.tensor());
    const HostTensor got = C.result(s);
    const HostTensor want =
        ref::gemm(a, ref_weight_t(h), HostTensor({M, N}), {M, N}, 1.0f, 0.0f, nullptr, ops::Activation::none);
    int64_t finite_rows = 0;
    for (int64_t r = 0; r < M; ++r) finite_rows += poisoned[static_cast<size_t>(r)] ? 0 : 1;
    HostTensor got_f({finite_rows, N}), want_f({finite_rows, N});
    for (int64_t r = 0, fr = 0; r < M; ++r) {
      for (int64_t n = 0; n < N; ++n) {
        const double o = got[r * N + n], e = want[r * N + n];
        if (!poisoned[static_cast<size_t>(r)]) {
          got_f[fr * N + n] = o;
          want_f[fr * N + n] = e;
        } else if (std::isnan(e)) {
          EXPECT_TRUE(std::isnan(o)) << "row " << r << " col " << n << ": got " << o << ", reference NaN";
        } else if (std::isinf(e)) {
          EXPECT_TRUE(std::isnan(o) || o == e)
              << "row " << r << " col " << n << ": got " << o << ", reference " << e;
        } else {
          ADD_FAILURE() << "row " << r << " col " << n << ": reference " << e
                        << " is finite in a poisoned row";
        }
      }
      if (!poisoned[static_cast<size_t>(r)]) ++fr;
    }
    if (finite_rows) {
      EXPECT_TRUE(close(got_f, want_f, OpClass::matmul, t));
    }
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no quantized gemm case runs on " << device().description();
}

TEST_P(Quant, TensorParallelViews) {
  Stream s(device());
  const QuantScheme sc{QuantFormat::int4_zp, 32, DType::f16};
  if (!runs("gemm", sc.format, DType::f32)) GTEST_SKIP() << "int4_zp gemm unsupported";
  const int64_t N = 40, K = 256, M = 3;
  const QuantHostWeight h = random_weight(sc, N, K, 3000);
  QuantWeight w = QuantWeight::from_host(s, h);
  const HostTensor a = random({M, K}, DType::f32, 3001);
  const HostTensor full_b = ref_weight_t(h);  // [K, N]
  struct View {
    int64_t n0, n1, k0, k1;
  };
  for (const View v : {View{8, 31, 0, K}, View{0, N, 64, 192}, View{5, 6, 224, 256}}) {
    SCOPED_TRACE(::testing::Message()
                 << "rows [" << v.n0 << ", " << v.n1 << ") cols [" << v.k0 << ", " << v.k1 << ")");
    QuantWeight part = w.slice_n(v.n0, v.n1).slice_k(v.k0, v.k1);
    const int64_t n = v.n1 - v.n0, k = v.k1 - v.k0;
    HostTensor ap({M, k}), bp({k, n});
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < k; ++j) ap[m * k + j] = a[m * K + v.k0 + j];
    for (int64_t j = 0; j < k; ++j)
      for (int64_t c = 0; c < n; ++c) bp[j * n + c] = full_b[(v.k0 + j) * N + v.n0 + c];
    for (const int64_t rows : {M, int64_t{1}}) {  // M = 1: the decode kernels (cpu: digits) on views
      HostTensor am({rows, k});
      for (int64_t j = 0; j < rows * k; ++j) am[j] = ap[j];
      Tensor A = upload(s, am, DType::f32);
      GuardedOutput C(s, {rows, n}, DType::f32);
      ops::gemm(s, A, part, C.tensor());
      EXPECT_TRUE(
          close(C.result(s),
                ref::gemm(am, bp, HostTensor({rows, n}), {rows, n}, 1, 0, nullptr, ops::Activation::none),
                OpClass::matmul, DType::f32))
          << rows << " activation rows";
    }
    GuardedOutput D(s, {n, k}, DType::f32);
    ops::dequantize(s, part, D.tensor());
    HostTensor want({n, k});
    for (int64_t c = 0; c < n; ++c)
      for (int64_t j = 0; j < k; ++j)
        want[c * k + j] = round_f32_then(full_b[(v.k0 + j) * N + v.n0 + c], DType::f32);
    EXPECT_TRUE(equal(D.result(s), want));
  }
}

// ---- embedding ----

TEST_P(Quant, EmbeddingFromQuantizedTable) {
  Stream s(device());
  int ran = 0;
  uint32_t seed = 4000;
  for (QuantFormat f : kFormats) {
    const DType t = f == QuantFormat::int4 ? DType::bf16 : f == QuantFormat::int8 ? DType::f16 : DType::f32;
    if (!runs("embedding", f, t)) continue;
    const QuantScheme sc{f, f == QuantFormat::fp8_e4m3fn ? QuantScheme::kPerChannel : 32, DType::f16};
    const int64_t V = 50, D = 96;
    const QuantHostWeight h = random_weight(sc, V, D, seed++);
    QuantWeight table = QuantWeight::from_host(s, h);
    const std::vector<int32_t> ids = {3, 49, 0, 17, -1, 50, 3, 1000};  // out-of-range ids give zero rows
    Tensor I = Tensor::from_host(s, DType::i32, Shape{2, 4}, ids.data());
    GuardedOutput out(s, {2, 4, D}, t, Layout::padded);
    ops::embedding(s, table, I, out.tensor());
    HostTensor want({2, 4, D});
    for (size_t r = 0; r < ids.size(); ++r)
      for (int64_t j = 0; j < D; ++j)
        want[static_cast<int64_t>(r) * D + j] =
            ids[r] < 0 || ids[r] >= V ? 0.0 : round_f32_then(ref_value(h, ids[r], j), t);
    EXPECT_TRUE(equal(out.result(s), want)) << quant_format_name(f);
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no quantized embedding runs on " << device().description();
}

// ---- quantize ----

/// Per element |w − dequant(w)| within the format's stated bound, given the group's scale d.
double bound(QuantFormat f, double w, double d) {
  switch (f) {
    case QuantFormat::int8: return 0.5 * d * (1 + 1e-3) + 1e-7;
    case QuantFormat::int4:
    case QuantFormat::int4_zp: return d * (1 + 1e-3) + 1e-7;
    case QuantFormat::fp8_e4m3fn: return std::fabs(w) * 0.0625 + d * std::ldexp(1.0, -10) + 1e-7;
  }
  return 0;
}

TEST_P(Quant, QuantizeWithinBoundAndDeterministic) {
  Stream s(device());
  uint32_t seed = 5000;
  int ran = 0;
  const int groups[] = {32, 128, QuantScheme::kPerChannel, QuantScheme::kPerTensor};
  for (QuantFormat f : kFormats)
    for (int g : groups) {
      if (g == QuantScheme::kPerTensor && f != QuantFormat::fp8_e4m3fn) continue;
      const DType t = g == 32 ? DType::f32 : g == 128 ? DType::bf16 : DType::f16;
      if (!runs("quantize", f, t) || !runs("dequantize", f, DType::f32)) continue;
      const QuantScheme sc{f, g, f == QuantFormat::fp8_e4m3fn ? DType::f32 : DType::f16};
      SCOPED_TRACE(scheme_name(sc) + " from " + dtype_name(t));
      const int64_t N = 13, K = g > 0 ? 4 * g : 70;
      HostTensor wv = random({N, K}, t, seed++, -2.0, 2.0);
      for (int64_t j = 0; j < K; ++j) wv[3 * K + j] = 0.0;  // an all-zero row: scale 0, codes of value 0
      Tensor W = upload(s, wv, t, Layout::padded);
      QuantWeight q = ops::quantize(s, W, sc);
      QuantWeight q2 = ops::quantize(s, W, sc);
      const QuantHostWeight h = q.to_host(s), h2 = q2.to_host(s);
      EXPECT_EQ(h.codes, h2.codes);
      EXPECT_EQ(h.scales, h2.scales);
      int64_t bad = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < K; ++j) {
          const double d = g == QuantScheme::kPerTensor
                               ? h.scales[0]
                               : h.scales[static_cast<size_t>(n * sc.groups(K) + (g > 0 ? j / g : 0))];
          const double v = ref_value(h, n, j);
          if (!(std::fabs(v - wv[n * K + j]) <= bound(f, wv[n * K + j], std::fabs(d)))) ++bad;
        }
      EXPECT_EQ(bad, 0) << "elements outside the error bound";
      for (int64_t j = 0; j < K; ++j) EXPECT_EQ(ref_value(h, 3, j), 0.0);
      // Q4_0's rule reproduced from llama.cpp's description: d = signed max / -8, q = trunc(w/d + 8.5) capped
      // at 15.
      if (f == QuantFormat::int4 && g == 32) {
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j0 = 0; j0 < K; j0 += 32) {
            double mx = 0;
            for (int64_t j = j0; j < j0 + 32; ++j)
              if (std::fabs(wv[n * K + j]) > std::fabs(mx)) mx = wv[n * K + j];
            const double d = h.scales[static_cast<size_t>(n * (K / 32) + j0 / 32)];
            EXPECT_EQ(d, round_f32_then(static_cast<float>(mx) / -8.0f, DType::f16));
            for (int64_t j = j0; j < j0 + 32 && d != 0; ++j) {
              const int code = std::min(
                  15, static_cast<int>(
                          std::trunc(static_cast<float>(wv[n * K + j]) / static_cast<float>(d) + 8.5f)));
              EXPECT_EQ(ref_value(h, n, j), (code - 8) * d);
            }
          }
      }
      ++ran;
    }
  if (ran == 0) GTEST_SKIP() << "no quantize case runs on " << device().description();
}

// The scale rule to the bit with f32 scales (a compiler that turns amax / 448 into
// amax * (1 / 448) rounds differently; lavapipe did): d == f32(absmax) / 448 (fp8) or / 127
// (int8); int8 codes are round-half-even(w / d), fp8 codes the nearest E4M3FN value of w / d.
TEST_P(Quant, QuantizeReproducesTheScaleRule) {
  Stream s(device());
  int ran = 0;
  for (const QuantScheme sc : {QuantScheme{QuantFormat::int8, 32, DType::f32},
                               QuantScheme{QuantFormat::fp8_e4m3fn, QuantScheme::kPerChannel, DType::f32}}) {
    if (!runs("quantize", sc.format, DType::f32)) continue;
    SCOPED_TRACE(scheme_name(sc));
    const int64_t N = 24, K = 96, g = sc.group > 0 ? sc.group : K;
    const HostTensor wv = random({N, K}, DType::f32, 8000 + ran, -3.0, 3.0);
    Tensor W = upload(s, wv, DType::f32);
    const QuantHostWeight h = ops::quantize(s, W, sc).to_host(s);
    int64_t bad_scales = 0, bad_codes = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j0 = 0; j0 < K; j0 += g) {
        float amax = 0.0f;
        for (int64_t j = j0; j < j0 + g; ++j)
          amax = std::max(amax, std::fabs(static_cast<float>(wv[n * K + j])));
        const float d = amax / (sc.format == QuantFormat::int8 ? 127.0f : 448.0f);
        const float got = h.scales[static_cast<size_t>(n * (K / g) + j0 / g)];
        if (got != d) ++bad_scales;
        for (int64_t j = j0; j < j0 + g; ++j) {
          const float x = static_cast<float>(wv[n * K + j]) / got;
          const uint8_t c = h.codes[static_cast<size_t>(n * K + j)];
          if (sc.format == QuantFormat::int8) {
            if (static_cast<int8_t>(c) != static_cast<int>(std::nearbyint(x))) ++bad_codes;
            continue;
          }
          // Nearest: no neighbouring code of the same sign is closer (ties: the even mantissa).
          const double e = std::fabs(x - fp8_ref(c));
          for (int dc : {-1, 1}) {
            const int nc = (c & 0x7f) + dc;
            if (nc < 0 || nc > 0x7e) continue;
            const double en = std::fabs(x - fp8_ref(static_cast<uint8_t>((c & 0x80) | nc)));
            if (en < e || (en == e && (nc & 1) == 0)) ++bad_codes;
          }
        }
      }
    EXPECT_EQ(bad_scales, 0) << "scales that are not f32(absmax) / the format's max";
    EXPECT_EQ(bad_codes, 0) << "codes that are not the nearest";
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no int8/fp8 quantize runs on " << device().description();
}

TEST_P(Quant, QuantizeThenGemmMatchesDequantizedDense) {
  Stream s(device());
  const QuantScheme sc{QuantFormat::int4, 64, DType::f16};
  if (!runs("quantize", sc.format, DType::f32) || !runs("gemm", sc.format, DType::f32))
    GTEST_SKIP() << "int4 quantize/gemm unsupported";
  const HostTensor wv = random({48, 192}, DType::f32, 6000);
  Tensor W = upload(s, wv, DType::f32);
  QuantWeight q = ops::quantize(s, W, sc);
  const QuantHostWeight h = q.to_host(s);
  const HostTensor a = random({2, 192}, DType::f32, 6001);
  Tensor A = upload(s, a, DType::f32);
  GuardedOutput C(s, {2, 48}, DType::f32);
  ops::gemm(s, A, q, C.tensor());
  EXPECT_TRUE(
      close(C.result(s),
            ref::gemm(a, ref_weight_t(h), HostTensor({2, 48}), {2, 48}, 1, 0, nullptr, ops::Activation::none),
            OpClass::matmul, DType::f32));
}

PORTA_INSTANTIATE_ON_DEVICES(Quant);

// A device that lacks a format refuses it with Errc::unsupported (never a wrong result) and
// stays usable afterwards.
class QuantUnsupported : public DeviceTest {};

TEST_P(QuantUnsupported, RefusedWithUnsupported) {
  Stream s(device());
  int refused = 0;
  for (QuantFormat f : kFormats) {
    if (supports_quant(device(), "gemm", f, DType::f32)) continue;
    const QuantHostWeight h = random_weight({f, 32, DType::f16}, 4, 64, 7000);
    QuantWeight w = QuantWeight::from_host(s, h);
    Tensor A = upload(s, random({2, 64}, DType::f32, 7001), DType::f32);
    Tensor C = Tensor::empty(device(), DType::f32, Shape{2, 4});
    try {
      ops::gemm(s, A, w, C);
      ADD_FAILURE() << "gemm on " << quant_format_name(f) << " did not refuse";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find(quant_format_name(f)), std::string::npos) << e.what();
    }
    ++refused;
  }
  if (refused == 0) GTEST_SKIP() << device().description() << " runs every quantized format";
  const HostTensor x = random({5}, DType::f32, 7002);
  Tensor X = upload(s, x, DType::f32);
  GuardedOutput out(s, {5}, DType::f32);
  ops::scale(s, X, 2.0f, out.tensor());
  EXPECT_TRUE(close(out.result(s), ref::unary(ref::Unary::scale, x, 2.0), OpClass::elementwise, DType::f32));
}

PORTA_INSTANTIATE_ON_DEVICES(QuantUnsupported);

}  // namespace
}  // namespace porta::test
