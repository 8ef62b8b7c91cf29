// Row kernels on the host emulator through their real launchers and rows_plan.cpp's plans:
// rms_norm / layer_norm and softmax (dense 16-byte paths, one group or one block per row, and
// the strided kernels), argmax (chunked long rows, NaN first, first index on ties), embedding
// (16-byte rows and the strided/converting kernel, ids outside the table), against float64.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/rows_plan.h"
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
static TDesc rows_desc(void* p, int dt, int64_t rows, int64_t D, int64_t rs) {
  TDesc t;
  t.ptr = static_cast<char*>(p), t.dtype = dt;
  t.shape[2] = rows, t.shape[3] = D;
  t.strides[2] = rs, t.strides[3] = 1;
  return t;
}
static double tol_of(int dt) { return dt == 0 ? 2e-5 : dt == 1 ? 2e-3 : 1.6e-2; }

static void norm(int dt, int rows, int D, bool layer, bool dense) {
  std::mt19937 rng(rows * 3 + D);
  std::uniform_real_distribution<double> U(-2, 2);
  const int64_t rs = dense ? D : D + 3;
  std::vector<unsigned char> x(size_t(rows) * rs * es_of(dt)), w(size_t(D) * es_of(dt)),
      b(size_t(D) * es_of(dt)), o(size_t(rows) * rs * es_of(dt));
  for (size_t i = 0; i < size_t(rows) * rs; ++i) store(dt, x, i, U(rng) + (layer ? 3 : 0));
  for (int i = 0; i < D; ++i) store(dt, w, i, U(rng)), store(dt, b, i, U(rng));
  NormDesc d;
  d.x = rows_desc(x.data(), dt, rows, D, rs), d.out = rows_desc(o.data(), dt, rows, D, rs);
  d.weight = rows_desc(w.data(), dt, 1, D, 0);
  if (layer) d.bias = rows_desc(b.data(), dt, 1, D, 0);
  d.rows = rows, d.D = D, d.eps = 1e-5f, d.layer = layer;
  RowsLaunch p;
  const bool planned = plan_norm(d, 8, &p);
  const int st = planned ? launch_norm_dense(d, p, nullptr) : launch_norm(d, nullptr);
  int bad = st != 0;
  for (int r = 0; r < rows; ++r) {
    double mean = 0, ss = 0;
    for (int i = 0; i < D; ++i) mean += load(dt, x, size_t(r) * rs + i);
    mean /= D;
    for (int i = 0; i < D; ++i) {
      const double v = load(dt, x, size_t(r) * rs + i) - (layer ? mean : 0);
      ss += v * v;
    }
    const double inv = 1 / std::sqrt(ss / D + 1e-5);
    for (int i = 0; i < D; ++i) {
      const double want = (load(dt, x, size_t(r) * rs + i) - (layer ? mean : 0)) * inv * load(dt, w, i) +
                          (layer ? load(dt, b, i) : 0);
      const double got = load(dt, o, size_t(r) * rs + i);
      if (!(std::fabs(got - want) <= tol_of(dt) * (1 + std::fabs(want))) && bad++ < 3)
        std::printf("  [%d, %d] got %g want %g\n", r, i, got, want);
    }
  }
  std::printf("%s dt %d rows %d D %d %s: %s\n", layer ? "layer_norm" : "rms_norm", dt, rows, D,
              planned ? ("dense tpr " + std::to_string(p.threads_per_row) + " vpt " +
                         std::to_string(p.vecs_per_thread))
                            .c_str()
                      : "strided",
              bad ? "FAIL" : "ok");
  fails += bad != 0;
}

static void softmax(int dt, int rows, int D, bool mask, bool dense) {
  std::mt19937 rng(rows * 5 + D);
  std::uniform_real_distribution<double> U(-4, 4);
  const int64_t rs = dense ? D : D + 8;
  std::vector<unsigned char> x(size_t(rows) * rs * es_of(dt)), o(x.size());
  std::vector<float> m(D);
  for (size_t i = 0; i < size_t(rows) * rs; ++i) store(dt, x, i, U(rng));
  for (int i = 0; i < D; ++i) m[i] = i % 3 == 0 ? -INFINITY : float(U(rng));
  if (rows > 2) store(dt, x, size_t(2) * rs + 5, NAN);  // row 2: NaN
  SoftmaxDesc d;
  d.x = rows_desc(x.data(), dt, rows, D, rs), d.out = rows_desc(o.data(), dt, rows, D, rs);
  if (mask) d.mask = rows_desc(m.data(), kF32, rows, D, 0);  // one mask row broadcast
  d.rows = rows, d.D = D, d.scale = 0.7f;
  RowsLaunch p;
  const bool planned = plan_softmax(d, 8, &p);
  const int st = planned ? launch_softmax_dense(d, p, nullptr) : launch_softmax(d, nullptr);
  int bad = st != 0;
  for (int r = 0; r < rows; ++r) {
    std::vector<double> v(D);
    double mx = -INFINITY;
    bool nan = false;
    for (int i = 0; i < D; ++i) {
      v[i] = 0.7 * load(dt, x, size_t(r) * rs + i) + (mask ? m[i] : 0);
      nan |= std::isnan(v[i]);
      mx = std::max(mx, v[i]);
    }
    double sum = 0;
    for (auto& e : v) sum += (e = std::isinf(mx) ? 0 : std::exp(e - mx));
    for (int i = 0; i < D; ++i) {
      const double want = nan              ? NAN
                          : std::isinf(mx) ? 0.0
                                           : v[i] / sum,
                   got = load(dt, o, size_t(r) * rs + i);
      const bool ok = nan ? std::isnan(got) : std::fabs(got - want) <= tol_of(dt) * (1e-3 + std::fabs(want));
      if (!ok && bad++ < 3) std::printf("  [%d, %d] got %g want %g\n", r, i, got, want);
    }
  }
  std::printf("softmax dt %d rows %d D %d%s %s: %s\n", dt, rows, D, mask ? " mask" : "",
              planned ? ("dense tpr " + std::to_string(p.threads_per_row)).c_str() : "strided",
              bad ? "FAIL" : "ok");
  fails += bad != 0;
}

static void argmax(int dt, int rows, int C, int sms) {
  std::mt19937 rng(rows + C);
  std::uniform_real_distribution<double> U(-1, 1);
  std::vector<unsigned char> x(size_t(rows) * C * es_of(dt));
  for (size_t i = 0; i < size_t(rows) * C; ++i) store(dt, x, i, U(rng));
  for (int r = 0; r < rows; ++r) {
    const int a = int(rng() % C), b = int(rng() % C);
    store(dt, x, size_t(r) * C + a, 5.0), store(dt, x, size_t(r) * C + b, 5.0);  // a tie
    if (r % 3 == 1) store(dt, x, size_t(r) * C + (a + b) / 2, NAN);              // NaN wins
  }
  std::vector<int32_t> out(rows, -7);
  ArgmaxDesc d;
  d.x = rows_desc(x.data(), dt, rows, C, C);
  d.out.ptr = reinterpret_cast<char*>(out.data()), d.out.dtype = kI32, d.out.shape[3] = rows,
  d.out.strides[3] = 1;
  ArgmaxSplit p = plan_argmax(d, sms);
  std::vector<double> pv(size_t(rows) * p.chunks);
  std::vector<int64_t> pi(size_t(rows) * p.chunks);
  p.part_val = pv.data(), p.part_idx = pi.data();
  int bad = launch_argmax_split(d, p, nullptr) != 0;
  for (int r = 0; r < rows; ++r) {
    int best = 0;
    for (int i = 1; i < C; ++i) {
      const double v = load(dt, x, size_t(r) * C + i), bv = load(dt, x, size_t(r) * C + best);
      if (std::isnan(bv)) break;
      if (std::isnan(v) || v > bv) best = i;
    }
    if (out[r] != best && bad++ < 3) std::printf("  row %d: got %d want %d\n", r, out[r], best);
  }
  std::printf("argmax dt %d rows %d C %d chunks %d vec %d: %s\n", dt, rows, C, p.chunks, int(p.vec),
              bad ? "FAIL" : "ok");
  fails += bad != 0;
}

static void embedding(int tdt, int odt, int V, int D, int N, bool pad) {
  std::mt19937 rng(V + D + N);
  std::uniform_real_distribution<double> U(-1, 1);
  const int64_t ts = D + (pad ? 8 : 0), os = D + (pad ? 3 : 0);
  std::vector<unsigned char> t(size_t(std::max(V, 1)) * ts * es_of(tdt)),
      o(size_t(N) * os * es_of(odt), 0x5a);
  for (size_t i = 0; i < size_t(V) * ts; ++i) store(tdt, t, i, U(rng));
  std::vector<int32_t> ids(N);
  for (int n = 0; n < N; ++n) ids[n] = n % 4 == 1 ? -1 - n : n % 4 == 2 ? V + n : int(rng() % std::max(V, 1));
  EmbeddingDesc d;
  d.table = rows_desc(t.data(), tdt, V, D, ts), d.out = rows_desc(o.data(), odt, N, D, os);
  d.ids.ptr = reinterpret_cast<char*>(ids.data()), d.ids.dtype = kI32, d.ids.shape[3] = N,
  d.ids.strides[3] = 1;
  VecRowsLaunch p;
  const bool planned = plan_embedding_rows(d, &p);
  int bad = (planned ? launch_embedding_rows(d, p, nullptr) : launch_embedding(d, nullptr)) != 0;
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < D; ++i) {
      const bool in = ids[n] >= 0 && ids[n] < V;
      std::vector<unsigned char> w(4);
      store(odt, w, 0, in ? load(tdt, t, size_t(ids[n]) * ts + i) : 0.0);
      const double want = load(odt, w, 0), got = load(odt, o, size_t(n) * os + i);
      if (got != want && bad++ < 3)
        std::printf("  [%d (id %d), %d] got %g want %g\n", n, ids[n], i, got, want);
    }
  std::printf("embedding table %d out %d V %d D %d N %d %s: %s\n", tdt, odt, V, D, N,
              planned ? "rows" : "strided", bad ? "FAIL" : "ok");
  fails += bad != 0;
}

int main() {
  for (int dt : {0, 1, 2}) {
    embedding(dt, dt, 40, 64, 13, false);  // 16-byte rows
    embedding(dt, dt, 40, 24, 9, true);    // padded rows: strided kernel
  }
  embedding(1, 0, 30, 40, 7, false);  // converting
  embedding(2, 2, 0, 16, 5, false);   // an empty table: every row zeros
  for (int dt : {0, 1, 2})
    for (int D : {64, 1000, 4096, 8192}) {
      norm(dt, 11, D, false, true);
      norm(dt, 5, D, true, true);
      softmax(dt, 6, D, dt != 1, true);
    }
  norm(1, 4, 100, true, false);
  softmax(2, 4, 100, true, false);
  softmax(0, 3, 16384, false, true);
  for (int dt : {0, 1, 2}) {
    argmax(dt, 3, 128256 / 8, 4);
    argmax(dt, 5, 1000, 4);
  }
  std::printf("%s: %d failing\n", fails ? "FAIL" : "PASS", fails);
  return fails != 0;
}
