// quant.cu on the host emulator: dequantize (vector and element paths, ids, unpermute),
// the GEMV (vector and element paths, act-order, epilogues), quantize, against float64.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/quant_plan.h"
#include "kernels/cuda/kernel_args.h"

namespace porta::cuda {
void emu_quant_dequant(const QuantDequantDesc& d);
void emu_quant_gemv(const QuantGemvDesc& d);
void emu_quantize(const QuantizeDesc& d);
}  // namespace porta::cuda
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
static float fp8(uint8_t c) {
  const int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  float v = (e == 15 && m == 7) ? NAN
            : e == 0            ? std::ldexp(float(m), -9)
                                : std::ldexp(1.0f + m / 8.0f, e - 7);
  return s ? -v : v;
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
static float round_to(int dt, float v) { return dt == 1 ? h2f(f2h(v)) : dt == 2 ? b2f(f2b(v)) : v; }

// A weight [n, k] (format f, group g > 0 or k for per-channel), stored with a row pitch of
// `pitch` bytes and `off` bytes into its buffer (views), scales [n, G] f16/bf16/f32.
struct W {
  int f, n, k, group, sdt;
  size_t pitch, off;
  std::vector<unsigned char> codes, scales;
  std::vector<uint16_t> zeros;
  std::vector<int32_t> perm;
  int G() const { return (k + group - 1) / group; }
  int code(int r, int j) const {
    const uint8_t b = codes[off + r * pitch + ((f == 1 || f == 2) ? j / 2 : j)];
    if (f == 1 || f == 2) return (j & 1) ? b >> 4 : b & 15;
    return f == 0 ? int(int8_t(b)) : b;
  }
  float scale(int r, int g) const { return float(load(sdt, scales, size_t(r) * G() + g)); }
  float value(int r, int j) const {  // f32 as the kernels compute it
    const int g = j / group;
    const float s = scale(r, g);
    const float q = f == 3 ? fp8(uint8_t(code(r, j))) : float(code(r, j));
    const float o = f == 1 ? 8.0f : f == 2 ? h2f(zeros[size_t(r) * G() + g]) : 0.0f;
    return (q - o) * s;
  }
  QWDesc desc() {
    QWDesc q;
    q.codes = reinterpret_cast<char*>(codes.data()) + off;
    q.code_rs = int64_t(pitch);
    q.scales = reinterpret_cast<char*>(scales.data());
    q.scale_dt = sdt, q.scale_rs = G(), q.scale_cs = 1;
    if (f == 2) q.zeros = reinterpret_cast<char*>(zeros.data()), q.zero_rs = G(), q.zero_cs = 1;
    if (!perm.empty()) q.perm = reinterpret_cast<const char*>(perm.data()), q.perm_st = 1;
    q.format = f, q.n = n, q.k = k, q.group = group;
    return q;
  }
};

static W make_w(std::mt19937& rng, int f, int n, int k, int group, int sdt, size_t extra_pitch, size_t off,
                bool perm) {
  W w{f, n, k, group > 0 ? group : k, sdt};
  const size_t rb = (f == 1 || f == 2) ? (k + 1) / 2 : k;
  w.pitch = rb + extra_pitch, w.off = off;
  w.codes.resize(off + w.pitch * n + 64);
  for (auto& c : w.codes) c = uint8_t(rng());
  if (f == 3)
    for (auto& c : w.codes)
      if ((c & 0x7f) == 0x7f) c ^= 1;
  std::uniform_real_distribution<double> U(0.01, 0.1);
  w.scales.resize(size_t(n) * w.G() * es_of(sdt));
  for (size_t i = 0; i < size_t(n) * w.G(); ++i) store(sdt, w.scales, i, (rng() & 1) ? U(rng) : -U(rng));
  if (f == 2) {
    w.zeros.resize(size_t(n) * w.G());
    for (auto& z : w.zeros) z = f2h(float(rng() % 16));
  }
  if (perm) {
    w.perm.resize(k);
    std::iota(w.perm.begin(), w.perm.end(), 0);
    std::shuffle(w.perm.begin(), w.perm.end(), rng);
  }
  return w;
}

static int fails = 0;
static void report(bool ok, const std::string& what) {
  std::printf("%s: %s\n", what.c_str(), ok ? "ok" : "FAIL");
  std::fflush(stdout);
  fails += !ok;
}

static std::string name(const W& w) {
  return "f" + std::to_string(w.f) + " [" + std::to_string(w.n) + ", " + std::to_string(w.k) + "] g" +
         std::to_string(w.group) + " sdt " + std::to_string(w.sdt) + " pitch " + std::to_string(w.pitch) +
         " off " + std::to_string(w.off) + (w.perm.empty() ? "" : " perm");
}

// dequantize (ids: embedding; unpermute: the gemm block) into out [rows, k] of dtype odt.
static void check_dequant(W& w, int odt, bool unpermute, bool ids, int out_pad) {
  std::mt19937 rng(7);
  const int rows = ids ? 9 : w.n;
  std::vector<int32_t> id(rows);
  for (auto& x : id) x = int(rng() % (w.n + 4)) - 2;  // some out of range
  const int64_t rs = w.k + out_pad;
  std::vector<unsigned char> out(size_t(rows) * rs * es_of(odt) + 64, 0xee);
  QuantDequantDesc d;
  d.w = w.desc();
  d.out = reinterpret_cast<char*>(out.data());
  d.out_dt = odt, d.out_rs = rs, d.out_cs = 1, d.rows = rows;
  if (ids) d.ids = reinterpret_cast<const char*>(id.data()), d.ids_st = 1;
  d.unpermute = unpermute;
  d.vec = quant_dequant_vec(d);
  emu_quant_dequant(d);
  int bad = 0;
  for (int r = 0; r < rows; ++r) {
    const int n = ids ? id[r] : r;
    for (int j = 0; j < w.k; ++j) {
      const float want = ids && (n < 0 || n >= w.n) ? 0.0f : round_to(odt, w.value(n, j));
      const int col = unpermute && !w.perm.empty() ? w.perm[j] : j;
      const double got = load(odt, out, size_t(r) * rs + col);
      if (!(got == want || (std::isnan(got) && std::isnan(want))) && bad++ < 3)
        std::printf("  [%d, %d]: got %g want %g\n", r, j, got, want);
    }
  }
  report(bad == 0, "dequant " + name(w) + " out " + std::to_string(odt) + (d.vec ? " vec" : " elem") +
                       (ids ? " ids" : "") + (unpermute ? " unpermute" : ""));
}

static void check_gemv(W& w, int M, int adt, bool epi) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> U(-1, 1);
  const int64_t a_rs = w.k + 3;
  std::vector<unsigned char> a(size_t(M) * a_rs * es_of(adt));
  for (size_t i = 0; i < size_t(M) * a_rs; ++i) store(adt, a, i, U(rng));
  std::vector<unsigned char> c(size_t(M) * w.n * 4);
  std::vector<float> bias(w.n);
  for (auto& b : bias) b = float(U(rng));
  for (size_t i = 0; i < size_t(M) * w.n; ++i) store(0, c, i, U(rng));
  const std::vector<unsigned char> c0 = c;
  QuantGemvDesc d;
  d.w = w.desc();
  d.a = reinterpret_cast<const char*>(a.data()), d.a_dt = adt, d.a_rs = a_rs, d.a_cs = 1, d.M = M;
  d.c = reinterpret_cast<char*>(c.data()), d.c_dt = 0, d.c_rs = w.n, d.c_cs = 1;
  if (epi)
    d.bias = reinterpret_cast<const char*>(bias.data()), d.bias_dt = 0, d.bias_st = 1, d.alpha = 0.5f,
    d.beta = 2.0f, d.act = 3;
  d.vec = quant_gemv_vec(d.w);
  emu_quant_gemv(d);
  int bad = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < w.n; ++n) {
      double s = 0;
      for (int j = 0; j < w.k; ++j)
        s += double(w.value(n, j)) * load(adt, a, size_t(m) * a_rs + (w.perm.empty() ? j : w.perm[j]));
      double v = s;
      if (epi) {
        v = 0.5 * s + 2.0 * load(0, c0, size_t(m) * w.n + n) + bias[n];
        v = v / (1 + std::exp(-v));
      }
      const double got = load(0, c, size_t(m) * w.n + n);
      if (!(std::fabs(got - v) <= 1e-4 * (1 + std::fabs(v))) && bad++ < 3)
        std::printf("  c[%d, %d]: got %g want %g\n", m, n, got, v);
    }
  report(bad == 0, "gemv M " + std::to_string(M) + " " + name(w) + " a " + std::to_string(adt) +
                       (d.vec ? " vec" : " elem") + (epi ? " epilogue" : ""));
}

// quantize: the cpu backend's rules (src/backends/cpu/quant.cpp), codes and scales bit-exact.
static int to_code(float f, int lo, int hi) {
  if (!(f >= float(lo))) return lo;
  if (!(f <= float(hi))) return hi;
  return int(f);
}
static uint8_t host_fp8(float v) {
  if (std::isnan(v)) return 0x7f;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0;
  float a = std::fabs(v);
  if (a >= 448.0f) return sign | 0x7e;
  int e;
  std::frexp(a, &e);
  const int exp = std::max(e - 1, -6);
  const float step = std::ldexp(1.0f, exp - 3);
  const float q = std::nearbyint(a / step);
  float r = q * step;
  if (r >= 448.0f) return sign | 0x7e;
  if (r == 0.0f) return sign;
  int re;
  std::frexp(r, &re);
  if (re - 1 < -6) return uint8_t(sign | uint8_t(std::ldexp(r, 9)));
  return uint8_t(sign | ((re - 1 + 7) << 3) | (int(std::ldexp(r, -(re - 1)) * 8.0f) - 8));
}
static void check_quantize(int f, int n, int k, int group, int sdt, int idt, bool per_tensor) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> U(-3, 3);
  std::vector<unsigned char> in(size_t(n) * k * es_of(idt));
  for (size_t i = 0; i < size_t(n) * k; ++i) store(idt, in, i, (i % 97 == 0) ? 0.0 : U(rng));
  for (int j = 0; j < std::min(k, 32); ++j) store(idt, in, size_t(1) * k + j, 0.0);  // a zero group in row 1
  const int g = group > 0 ? group : k, G = per_tensor ? 1 : (k + g - 1) / g;
  const size_t rb = (f == 1 || f == 2) ? (k + 1) / 2 : k;
  std::vector<unsigned char> codes(rb * n, 0xcd), scales(size_t(n) * G * es_of(sdt), 0xcd);
  std::vector<uint16_t> zeros(size_t(n) * G, 0xcdcd);
  std::vector<float> rowmax(n);
  QuantizeDesc d;
  d.w.codes = reinterpret_cast<char*>(codes.data()), d.w.code_rs = int64_t(rb);
  d.w.scales = reinterpret_cast<char*>(scales.data()), d.w.scale_dt = sdt;
  d.w.scale_rs = per_tensor ? 0 : G, d.w.scale_cs = per_tensor ? 0 : 1;
  if (f == 2) d.w.zeros = reinterpret_cast<char*>(zeros.data()), d.w.zero_rs = G, d.w.zero_cs = 1;
  d.w.format = f, d.w.n = n, d.w.k = k, d.w.group = g;
  d.in = reinterpret_cast<const char*>(in.data()), d.in_dt = idt, d.in_rs = k, d.in_cs = 1;
  d.per_tensor = per_tensor, d.rowmax = rowmax.data();
  emu_quantize(d);
  // host rules
  auto rule = [&](int r, int j0, int j1, float& lo) {
    float amax = 0, smax = 0, mn = 0, mx = 0;
    for (int j = j0; j < j1; ++j) {
      const float v = float(load(idt, in, size_t(r) * k + j));
      if (std::fabs(v) > amax) amax = std::fabs(v), smax = v;
      mn = std::min(mn, v), mx = std::max(mx, v);
    }
    lo = mn;
    return f == 0 ? amax / 127.0f : f == 1 ? smax / -8.0f : f == 2 ? (mx - mn) / 15.0f : amax / 448.0f;
  };
  float ts = 0;
  if (per_tensor) {
    for (int r = 0; r < n; ++r) {
      float lo;
      ts = std::max(ts, rule(r, 0, k, lo));
    }
    ts = round_to(sdt, ts);
  }
  int bad = 0;
  for (int r = 0; r < n; ++r)
    for (int gi = 0; gi < (k + g - 1) / g; ++gi) {
      const int j0 = gi * g, j1 = std::min(k, j0 + g);
      float lo = 0, s = ts, z = 0;
      if (!per_tensor) {
        s = round_to(sdt, rule(r, j0, j1, lo));
        if (float(load(sdt, scales, size_t(r) * G + gi)) != s && bad++ < 3)
          std::printf("  scale [%d, %d] got %g want %g\n", r, gi, load(sdt, scales, size_t(r) * G + gi), s);
      }
      if (f == 2) {
        z = s != 0 ? std::clamp(std::nearbyint(-lo / s), 0.0f, 15.0f) : 0.0f;
        if (h2f(zeros[size_t(r) * G + gi]) != z && bad++ < 3) std::printf("  zero [%d, %d]\n", r, gi);
      }
      for (int j = j0; j < j1; ++j) {
        const float v = float(load(idt, in, size_t(r) * k + j));
        int want;
        if (f == 0)
          want = uint8_t(int8_t(s != 0 ? to_code(std::nearbyint(v / s), -127, 127) : 0));
        else if (f == 1)
          want = s != 0 ? to_code(std::trunc(v / s + 8.5f), 0, 15) : 8;
        else if (f == 2)
          want = s != 0 ? to_code(std::nearbyint(v / s) + z, 0, 15) : to_code(z, 0, 15);
        else
          want = s != 0 ? host_fp8(v / s) : 0;
        const uint8_t b = codes[size_t(r) * rb + ((f == 1 || f == 2) ? j / 2 : j)];
        const int got = (f == 1 || f == 2) ? ((j & 1) ? b >> 4 : b & 15) : b;
        if (got != want && bad++ < 3)
          std::printf("  code [%d, %d] got %d want %d (v %g s %g)\n", r, j, got, want, v, s);
      }
      if ((f == 1 || f == 2) && (k & 1) && j1 == k && (codes[size_t(r) * rb + rb - 1] >> 4) != 0 && bad++ < 3)
        std::printf("  odd K: high nibble of the last byte not 0\n");
    }
  report(bad == 0, "quantize f" + std::to_string(f) + " [" + std::to_string(n) + ", " + std::to_string(k) +
                       "] g" + std::to_string(group) + (per_tensor ? " per-tensor" : "") + " sdt " +
                       std::to_string(sdt) + " in " + std::to_string(idt));
}

int main() {
  std::mt19937 rng(1);
  // dequantize: vec (aligned) and element paths, every format and group, odd K, views.
  for (int f = 0; f < 4; ++f)
    for (int group : {32, 64, 128, 0}) {
      const int k = group > 0 ? group * 3 : 45 + 2 * f;
      W w = make_w(rng, f, 11, k, group, (f + group) % 3, 0, 0, false);
      check_dequant(w, (f + 1) % 3, false, false, 0);
      check_dequant(w, f % 3, false, false, 3);
      check_dequant(w, 2, false, true, 0);
      W wv = make_w(rng, f, 7, k, group, 1, 16, (f == 1 || f == 2) ? 4 : 8, f == 0);  // a view: pitch, offset
      check_dequant(wv, 1, true, false, 0);
      check_dequant(wv, 0, false, false, 0);
    }
  // GEMV: vec and element paths, M = 1, 3, 5, 16; act-order; epilogue.
  for (int f = 0; f < 4; ++f)
    for (int group : {32, 64, 128, 0}) {
      const int k = group > 0 ? group * 4 : 256;
      W w = make_w(rng, f, 19, k, group, group == 64 ? 2 : 1, 0, 0, false);
      check_gemv(w, 1, 1, false);
      check_gemv(w, 5, 2, true);
      W p = make_w(rng, f, 9, k, group, 0, 0, 0, true);
      check_gemv(p, 3, 0, false);
      W e =
          make_w(rng, f, 9, group > 0 ? group * 2 : 45, group, 1, 3, 1, f == 2);  // misaligned: element path
      check_gemv(e, 16, 1, true);
    }
  for (int f = 0; f < 4; ++f)
    for (int group : {32, 128, 0}) {
      check_quantize(f, 5, group > 0 ? group * 2 : 45, group, (f + group) % 3, (f + 1) % 3, false);
    }
  check_quantize(3, 6, 96, -1, 1, 0, true);
  check_quantize(3, 6, 45, -1, 2, 1, true);
  std::printf("%s: %d failing checks\n", fails ? "FAIL" : "PASS", fails);
  return fails != 0;
}
