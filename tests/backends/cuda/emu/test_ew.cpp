// Element-wise, copy, cast, fill and rope kernels on the host emulator through their real
// launchers and rows_plan.cpp's plans (the 16-byte row paths, dense vec4/vec8 and the strided
// kernels, broadcast operands), against float64.
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
#include "kernels/cuda/rope_freq.h"

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
  if ((u & 0x7fffffff) > 0x7f800000) return uint16_t((u >> 16) | 0x40);
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
static double rnd(int dt, double v) {
  std::vector<unsigned char> t(4);
  store(dt, t, 0, float(v));
  return load(dt, t, 0);
}
static double tol_of(int dt) { return dt == 0 ? 1e-5 : dt == 1 ? 2e-3 : 1.6e-2; }
static int fails = 0;
static TDesc td(void* p, int dt, int64_t M, int64_t N, int64_t rs, int64_t cs = 1) {
  TDesc t;
  t.ptr = static_cast<char*>(p), t.dtype = dt;
  t.shape[2] = M, t.shape[3] = N;
  t.strides[2] = rs, t.strides[3] = cs;
  return t;
}
static void report(bool ok, const std::string& what) {
  std::printf("%s: %s\n", what.c_str(), ok ? "ok" : "FAIL");
  std::fflush(stdout);
  fails += !ok;
}

// kind: EwKind; bias: b is a broadcast row [N]; pad: out and a rows padded (strided paths).
static void elementwise(int kind, int dt, int M, int N, bool bias, int pad) {
  std::mt19937 rng(kind * 31 + M + N + pad);
  std::uniform_real_distribution<double> U(-3, 3);
  const bool bin = kind == kSiluMul || kind == kAdd || kind == kMul;
  const int64_t rs = N + pad;
  std::vector<unsigned char> a(size_t(M) * rs * es_of(dt)), b(size_t(M) * rs * es_of(dt)),
      o(size_t(M) * rs * es_of(dt), 0x77);
  for (size_t i = 0; i < size_t(M) * rs; ++i) store(dt, a, i, U(rng)), store(dt, b, i, U(rng));
  ElementwiseDesc d;
  d.kind = kind;
  d.a = td(a.data(), dt, M, N, rs), d.b = bin ? td(b.data(), dt, M, N, bias ? 0 : rs) : d.a,
  d.out = td(o.data(), dt, M, N, rs);
  d.alpha = 0.3f, d.n = int64_t(M) * N, d.dense = pad == 0 && !bias;
  VecRowsLaunch p;
  const bool rows = plan_elementwise_rows(d, bin, &p);
  if (!rows && d.dense) d.vec4 = true;  // the buffers are 16-byte aligned
  const int st = rows ? launch_elementwise_rows(d, p, nullptr) : launch_elementwise(d, nullptr);
  int bad = st != 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const double x = load(dt, a, size_t(m) * rs + n), y = load(dt, b, size_t(bias ? 0 : m) * rs + n);
      double v = 0;
      switch (kind) {
        case kSiluMul: v = x / (1 + std::exp(-x)) * y; break;
        case kGeluTanh: v = 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); break;
        case kGeluErf: v = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); break;
        case kAdd: v = x + y; break;
        case kMul: v = x * y; break;
        case kScale: v = double(0.3f) * x; break;
      }
      const double got = load(dt, o, size_t(m) * rs + n);
      if (!(std::fabs(got - v) <= tol_of(dt) * (1 + std::fabs(v))) && bad++ < 3)
        std::printf("  [%d, %d] got %g want %g\n", m, n, got, v);
    }
  // padding untouched
  for (int m = 0; m < M; ++m)
    for (int n = N; n < rs; ++n)
      if (o[(size_t(m) * rs + n) * es_of(dt)] != 0x77 && bad++ < 3)
        std::printf("  padding [%d, %d] written\n", m, n);
  report(bad == 0, "elementwise kind " + std::to_string(kind) + " dt " + std::to_string(dt) + " [" +
                       std::to_string(M) + ", " + std::to_string(N) + "]" + (bias ? " broadcast b" : "") +
                       (pad ? " padded" : "") +
                       (rows     ? " rows"
                        : d.vec4 ? " vec4"
                                 : " strided"));
}

static void copy_cast(int adt, int odt, int M, int N, int pad_a, int pad_o) {
  std::mt19937 rng(adt * 3 + odt + M + N);
  std::uniform_real_distribution<double> U(-1000, 1000);
  const int64_t ra = N + pad_a, ro = N + pad_o;
  std::vector<unsigned char> a(size_t(M) * ra * es_of(adt)), o(size_t(M) * ro * es_of(odt), 0x77);
  for (size_t i = 0; i < size_t(M) * ra; ++i) store(adt, a, i, U(rng) * (i % 7 == 0 ? 1e-6 : 1));
  ElementwiseDesc d;
  const bool move = adt == odt;
  d.kind = move ? kCopy : kCast;
  d.a = td(a.data(), adt, M, N, ra), d.b = d.a, d.out = td(o.data(), odt, M, N, ro);
  d.n = int64_t(M) * N, d.dense = pad_a == 0 && pad_o == 0;
  VecRowsLaunch p;
  int st;
  std::string path;
  if (move && plan_copy_rows(d, &p)) {
    st = launch_copy_rows(d, p, nullptr), path = "copy rows";
  } else {
    d.vec4 = !move && plan_cast_vec(d);
    st = launch_cast_copy(d, nullptr), path = d.vec4 ? "cast vec8" : "strided";
  }
  int bad = st != 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const double want = rnd(odt, load(adt, a, size_t(m) * ra + n)), got = load(odt, o, size_t(m) * ro + n);
      if (got != want && bad++ < 3) std::printf("  [%d, %d] got %.9g want %.9g\n", m, n, got, want);
    }
  report(bad == 0, "copy/cast " + std::to_string(adt) + " -> " + std::to_string(odt) + " [" +
                       std::to_string(M) + ", " + std::to_string(N) + "] pads " + std::to_string(pad_a) +
                       "/" + std::to_string(pad_o) + " " + path);
}

static void fill(int dt, int M, int N, int pad, double value) {
  const int64_t rs = N + pad;
  std::vector<unsigned char> o(size_t(M) * rs * es_of(dt) + 16, 0x77);
  FillDesc d;
  d.dst = td(o.data(), dt, M, N, rs);
  d.n = int64_t(M) * N;
  std::vector<unsigned char> pv(4, 0);
  store(dt, pv, 0, value);
  memcpy(&d.pattern, pv.data(), 4);
  if (dt != 0) d.pattern &= 0xffffu;
  const bool vec = fill_vec16_eligible(d, pad == 0);
  const int st = vec ? launch_fill_vec16(d, nullptr) : launch_fill(d, nullptr);
  int bad = st != 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < rs; ++n) {
      const bool in = n < N;
      if (in && load(dt, o, size_t(m) * rs + n) != load(dt, pv, 0) && bad++ < 3)
        std::printf("  [%d, %d] wrong\n", m, n);
      if (!in && o[(size_t(m) * rs + n) * es_of(dt)] != 0x77 && bad++ < 3)
        std::printf("  padding [%d, %d] written\n", m, n);
    }
  for (int i = 0; i < 16; ++i)
    if (o[size_t(M) * rs * es_of(dt) + i] != 0x77 && bad++ < 3) std::printf("  past the end written\n");
  report(bad == 0, "fill dt " + std::to_string(dt) + " [" + std::to_string(M) + ", " + std::to_string(N) +
                       "] pad " + std::to_string(pad) + (vec ? " vec16" : " strided"));
}

// x [B, H, S, D] (rows of D padded by pad), positions [S] or [B, S].
static void rope(int dt, int B, int H, int S, int D, int R, bool neox, bool per_batch, bool factors,
                 int pad) {
  std::mt19937 rng(B + H + S + D + R);
  std::uniform_real_distribution<double> U(-1, 1);
  const int64_t rs = D + pad;
  const size_t rows = size_t(B) * H * S;
  std::vector<unsigned char> x(rows * rs * es_of(dt)), o(rows * rs * es_of(dt), 0x77);
  for (size_t i = 0; i < rows * rs; ++i) store(dt, x, i, U(rng));
  std::vector<int32_t> pos(size_t(per_batch ? B : 1) * S);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = i % 3 == 0 ? int32_t(rng() % 2000000) : int32_t(i);
  RopeDesc d;
  auto t4 = [&](void* p) {
    TDesc t;
    t.ptr = static_cast<char*>(p), t.dtype = dt;
    t.shape[0] = B, t.shape[1] = H, t.shape[2] = S, t.shape[3] = D;
    t.strides[0] = int64_t(H) * S * rs, t.strides[1] = int64_t(S) * rs, t.strides[2] = rs, t.strides[3] = 1;
    return t;
  };
  d.x = t4(x.data()), d.out = t4(o.data());
  d.positions.ptr = reinterpret_cast<char*>(pos.data()), d.positions.dtype = kI32;
  d.positions.shape[2] = per_batch ? B : 1, d.positions.shape[3] = S;
  d.positions.strides[2] = per_batch ? S : 0, d.positions.strides[3] = 1;
  d.rotary_dim = R, d.neox = neox;
  const double theta = 500000.0;
  d.log2_theta = std::log2(theta);
  RopeFreqDiv f;
  if (factors) {
    f.n = R / 2;
    for (int i = 0; i < f.n; ++i) f.v[i] = 1.0f + float(i % 5);
  }
  RopeLaunch p;
  const bool vec = plan_rope(d, 8, &p);
  const int st = vec ? launch_rope_vec_scaled(d, p, f, nullptr) : launch_rope_scaled(d, f, nullptr);
  int bad = st != 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int s = 0; s < S; ++s) {
        const size_t base = ((size_t(b) * H + h) * S + s) * rs;
        const double ps = pos[per_batch ? size_t(b) * S + s : size_t(s)];
        std::vector<double> want(D);
        for (int i = 0; i < D; ++i) want[i] = load(dt, x, base + i);
        for (int i = 0; i < R / 2; ++i) {
          const double ang = ps * std::pow(theta, -2.0 * i / R) / (factors ? double(f.v[i]) : 1.0);
          const int i0 = neox ? i : 2 * i, i1 = neox ? i + R / 2 : 2 * i + 1;
          const double x0 = load(dt, x, base + i0), x1 = load(dt, x, base + i1);
          want[i0] = x0 * std::cos(ang) - x1 * std::sin(ang);
          want[i1] = x1 * std::cos(ang) + x0 * std::sin(ang);
        }
        for (int i = 0; i < D; ++i) {
          const double got = load(dt, o, base + i);
          if (!(std::fabs(got - want[i]) <= tol_of(dt) * 2 + 1e-5) && bad++ < 3)
            std::printf("  [%d, %d, %d, %d] pos %g got %g want %g\n", b, h, s, i, ps, got, want[i]);
        }
      }
  report(bad == 0, "rope dt " + std::to_string(dt) + " [" + std::to_string(B) + ", " + std::to_string(H) +
                       ", " + std::to_string(S) + ", " + std::to_string(D) + "] rot " + std::to_string(R) +
                       (neox ? " neox" : " gptj") + (per_batch ? " pos[B,S]" : " pos[S]") +
                       (factors ? " factors" : "") + (pad ? " padded" : "") + (vec ? " vec" : " strided"));
}

int main() {
  for (int dt : {0, 1, 2})
    for (int kind : {kSiluMul, kGeluTanh, kGeluErf, kAdd, kMul, kScale}) {
      elementwise(kind, dt, 5, 264, false, 0);
      elementwise(kind, dt, 3, 40, kind == kAdd || kind == kMul, 8);
      elementwise(kind, dt, 2, 37, false, 0);
    }
  elementwise(kAdd, 1, 7, 256, true, 0);
  for (int a : {0, 1, 2})
    for (int o : {0, 1, 2}) {
      copy_cast(a, o, 4, 264, 0, 0);
      copy_cast(a, o, 3, 40, 8, 16);
      copy_cast(a, o, 2, 13, 0, 3);
    }
  for (int dt : {0, 1, 2}) {
    fill(dt, 1, 1000, 0, -1.75);
    fill(dt, 3, 20, 4, 3.0e-3);
    fill(dt, 1, 7, 0, 65504.0);
  }
  for (int dt : {0, 1, 2}) {
    rope(dt, 2, 3, 5, 128, 128, true, false, false, 0);
    rope(dt, 1, 4, 3, 128, 64, false, true, true, 0);
    rope(dt, 2, 2, 3, 80, 32, true, true, false, 0);
    rope(dt, 1, 2, 2, 64, 64, true, false, true, 4);
  }
  std::printf("%s: %d failing\n", fails ? "FAIL" : "PASS", fails);
  return fails != 0;
}
