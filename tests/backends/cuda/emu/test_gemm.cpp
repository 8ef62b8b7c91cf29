// The GEMM kernels on the host emulator through their real launchers (kernels/cuda/launch.h):
// gemv.cu (mma.sync, [K, N] and strided paths, split-K), gemm_sm80_mma.cu (both B layouts,
// edges, split-K, batches), gemm_simt.cu and gemm_reduce, with epilogues, against float64.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/gemm_tiles.h"
#include "kernels/cuda/launch.h"

using namespace porta::cuda;

static uint16_t f2h(float f) {
  __half h = __float2half_rn(f);
  uint16_t u;
  memcpy(&u, &h, 2);
  return u;
}
static float h2f(uint16_t u) {
  __half h;
  memcpy(&h, &u, 2);
  return __half2float(h);
}
static uint16_t f2b(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}
static float b2f(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static int es_of(int dt) { return dt == 0 ? 4 : 2; }
static void store(int dt, std::vector<unsigned char>& b, size_t i, double v) {
  if (dt == 0) {
    float f = float(v);
    memcpy(&b[i * 4], &f, 4);
  } else {
    uint16_t h = dt == 1 ? f2h(float(v)) : f2b(float(v));
    memcpy(&b[i * 2], &h, 2);
  }
}
static double load(int dt, const std::vector<unsigned char>& b, size_t i) {
  if (dt == 0) {
    float f;
    memcpy(&f, &b[i * 4], 4);
    return f;
  }
  uint16_t h;
  memcpy(&h, &b[i * 2], 2);
  return dt == 1 ? h2f(h) : b2f(h);
}
static int fails = 0;

enum Path { kGemv, kSm80, kSimt };

// C[b] (f32) = act(alpha A[b] B[b] + beta C[b] + bias). A [batch, M, K] row-major with row
// pitch lda; B [K, N] either K-contiguous ([N, K] storage, pitch ldb) or N-contiguous.
static void run(Path path, int dt, int batch, int M, int N, int K, bool kmajor, int splits, bool epi,
                int lda_pad = 0, int a_cs = 1) {
  std::mt19937 rng(M * 7 + N * 13 + K + splits);
  std::uniform_real_distribution<double> U(-1, 1);
  const int64_t lda = int64_t(K) * a_cs + lda_pad, ldb = kmajor ? K : N;
  const int64_t a_bs = lda * M, b_bs = int64_t(kmajor ? N : K) * ldb;
  std::vector<unsigned char> a(size_t(a_bs * batch) * es_of(dt)), bm(size_t(b_bs * batch) * es_of(dt));
  for (size_t i = 0; i < size_t(a_bs * batch); ++i) store(dt, a, i, U(rng));
  for (size_t i = 0; i < size_t(b_bs * batch); ++i) store(dt, bm, i, U(rng));
  std::vector<unsigned char> c(size_t(batch) * M * N * 4);
  for (size_t i = 0; i < size_t(batch) * M * N; ++i) store(0, c, i, U(rng));
  const std::vector<unsigned char> c0 = c;
  std::vector<float> bias(N);
  for (auto& x : bias) x = float(U(rng));
  GemmDesc d;
  auto t4 = [](void* p, int dtype, int64_t s1, int64_t d2, int64_t d3, int64_t st1, int64_t st2,
               int64_t st3) {
    TDesc t;
    t.ptr = static_cast<char*>(p), t.dtype = dtype;
    t.shape[1] = s1, t.shape[2] = d2, t.shape[3] = d3;
    t.strides[1] = st1, t.strides[2] = st2, t.strides[3] = st3;
    return t;
  };
  d.a = t4(a.data(), dt, batch, M, K, a_bs, lda, a_cs);
  d.b = kmajor ? t4(bm.data(), dt, batch, K, N, b_bs, 1, ldb) : t4(bm.data(), dt, batch, K, N, b_bs, ldb, 1);
  d.c = t4(c.data(), kF32, batch, M, N, int64_t(M) * N, N, 1);
  if (epi)
    d.bias = t4(bias.data(), kF32, 1, 1, N, 0, 0, 1), d.alpha = 0.75f, d.beta = -0.5f, d.act = kActGelu;
  d.batch = batch, d.M = M, d.N = N, d.K = K, d.b_kmajor = kmajor, d.splits = splits;
  std::vector<float> part(size_t(splits) * batch * M * N, NAN);
  if (splits > 1) d.partial = part.data();
  int st = 0;
  if (path == kGemv) st = launch_gemv(d, nullptr);
  if (path == kSm80) st = launch_gemm_sm80(d, gemm_tile_sm80(), nullptr);
  if (path == kSimt) st = launch_gemm_simt(d, gemm_tile_simt(), nullptr);
  if (st == 0 && splits > 1) st = launch_gemm_reduce(d, nullptr);
  int bad = st != 0;
  for (int b = 0; b < batch; ++b)
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k)
          s += load(dt, a, size_t(b * a_bs + m * lda + int64_t(k) * a_cs)) *
               load(dt, bm, size_t(b * b_bs + (kmajor ? int64_t(n) * ldb + k : int64_t(k) * ldb + n)));
        double v = s;
        if (epi) {
          v = 0.75 * s - 0.5 * load(0, c0, (size_t(b) * M + m) * N + n) + bias[n];
          const double u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
          v = v / (1 + std::exp(-2 * u));
        }
        const double got = load(0, c, (size_t(b) * M + m) * N + n);
        if (!(std::fabs(got - v) <= 2e-4 * (1 + std::fabs(v)) + 1e-5 * K) && bad++ < 3)
          std::printf("  c[%d, %d, %d]: got %g want %g\n", b, m, n, got, v);
      }
  const char* names[] = {"gemv", "sm80", "simt"};
  std::printf("gemm %s dt %d batch %d [%d x %d x %d] %s splits %d%s%s: %s\n", names[path], dt, batch, M, N, K,
              kmajor ? "B K-major" : "B N-major", splits, epi ? " epilogue" : "",
              a_cs != 1 || lda_pad ? " strided A" : "", bad ? "FAIL" : "ok");
  std::fflush(stdout);
  fails += bad != 0;
}

int main() {
  // gemv: mma.sync ([N, K], f16/bf16), [K, N] (gemv_kn, 4/8/16 rows), 16-byte and strided paths.
  for (int M : {1, 5, 16}) {
    run(kGemv, 1, 2, M, 70, 264, true, 1, M == 5);
    run(kGemv, 2, 1, M, 33, 520, true, 3, true);
    run(kGemv, 1, 2, M, 264, 40, false, 1, M == 1);
    run(kGemv, 2, 1, M, 24, 300, false, 2, false);
    run(kGemv, 0, 1, M, 9, 96, true, 1, true);         // f32 K-contiguous: 16-byte loads
    run(kGemv, 1, 1, M, 7, 37, true, 1, false, 3, 1);  // K % 8 != 0: one group per column
    run(kGemv, 0, 1, M, 5, 33, false, 2, true, 0, 2);  // strided A
  }
  // sm80: both B layouts, edge tiles in M, N and K, split-K, batches, epilogues.
  for (int dt : {1, 2}) {
    run(kSm80, dt, 1, 130, 136, 72, true, 1, true);
    run(kSm80, dt, 2, 70, 200, 200, false, 1, false);
    run(kSm80, dt, 1, 17, 8, 512, true, 3, true);
    run(kSm80, dt, 2, 129, 264, 96, false, 2, true);
  }
  run(kSimt, 0, 2, 70, 65, 33, false, 1, true);
  run(kSimt, 1, 1, 33, 17, 100, true, 3, false, 5, 1);
  std::printf("%s: %d failing\n", fails ? "FAIL" : "PASS", fails);
  return fails != 0;
}
