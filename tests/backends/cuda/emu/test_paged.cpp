// Paged attention kernels (split-KV + combine, tensor-core prefill) on the host emulator,
// against a float64 reference with porta/serving.h's semantics (reference_paged.cpp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/paged_plan.h"
#include "kernels/cuda/paged_args.h"

namespace porta::cuda {
void emu_paged_attention(const PagedAttnDesc& d);
void emu_paged_prefill(const PagedAttnDesc& d);
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
static double fp8(uint8_t c) {
  const int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  double v = (e == 15 && m == 7) ? NAN : e == 0 ? std::ldexp(m, -9) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -v : v;
}

struct Case {
  std::vector<int> q_lens, kv_lens;
  int Hq = 4, Hkv = 2, D = 64, bs = 16;
  int kind = kPagedF16;  // cache kind; q/out dtype: kF16 for plain f16 etc.
  int qdt = 1;           // KDType of q/out
  bool causal = true;
  int window = 0;
  bool lse = false;
  bool prefill = false;  // run the tensor-core prefill kernel instead
  int sms = 132;
  std::vector<std::pair<int, int>> table_edits;
  std::vector<int> cu_override, lens_override;
  int max_q = -1, max_k = -1;
  bool nan_below_window = false;  // NaN in used slots below every query's window (a stricter test)
};

static int es_of(int dt) { return dt == 0 ? 4 : 2; }
static void store(int dt, std::vector<unsigned char>& buf, size_t i, double v) {
  if (dt == 0) {
    float f = float(v);
    memcpy(&buf[i * 4], &f, 4);
  } else {
    uint16_t h = dt == 1 ? f2h(float(v)) : f2b(float(v));
    memcpy(&buf[i * 2], &h, 2);
  }
}
static double load(int dt, const std::vector<unsigned char>& buf, size_t i) {
  if (dt == 0) {
    float f;
    memcpy(&f, &buf[i * 4], 4);
    return f;
  }
  uint16_t h;
  memcpy(&h, &buf[i * 2], 2);
  return dt == 1 ? h2f(h) : b2f(h);
}

static int run(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> U(-1, 1);
  const int B = int(c.kv_lens.size());
  std::vector<int> cu(B + 1, 0);
  for (int b = 0; b < B; ++b) cu[b + 1] = cu[b] + c.q_lens[b];
  const int T = cu[B];
  std::vector<int> need(B);
  int max_need = 1, used_blocks = 0;
  for (int b = 0; b < B; ++b)
    need[b] = (c.kv_lens[b] + c.bs - 1) / c.bs, max_need = std::max(max_need, need[b]),
    used_blocks += need[b];
  const int nb = used_blocks + 3, max_blocks = max_need + 2;
  std::vector<int> ids(nb);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<int> table(B * max_blocks, -1);
  int next = 0;
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < need[b]; ++j) table[b * max_blocks + j] = ids[next++];
  const std::vector<int>& lens_seen = c.lens_override.empty() ? c.kv_lens : c.lens_override;
  // used slots; ref values (double) and stored bytes
  const size_t rows = size_t(nb) * c.bs * c.Hkv, elems = rows * c.D;
  const bool plain = c.kind <= kPagedBF16;
  const int ces = plain ? es_of(c.kind) : 1;
  std::vector<unsigned char> kst(elems * ces), vst(elems * ces);
  std::vector<float> ksc(rows, NAN), vsc(rows, NAN);
  std::vector<double> kref(elems, NAN), vref(elems, NAN);
  const float k_layer = 0.37f, v_layer = 1.9f;
  std::vector<char> used(size_t(nb) * c.bs, 0);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < std::min(lens_seen[b], max_blocks * c.bs); ++j) {
      const int id = table[b * max_blocks + j / c.bs];
      if (id >= 0) used[size_t(id) * c.bs + j % c.bs] = 1;
    }
  if (c.nan_below_window) {  // slots of keys below the window of every query of the sequence: NaN
    for (int b = 0; b < B; ++b) {
      const int len = c.kv_lens[b], qlen = c.q_lens[b];
      const int lo = std::max(0, len - qlen - c.window + 1);
      for (int j = 0; j < std::min(lo, len); ++j) {
        const int id = table[b * max_blocks + j / c.bs];
        if (id >= 0) used[size_t(id) * c.bs + j % c.bs] = 0;
      }
    }
  }
  for (size_t r = 0; r < rows; ++r) {
    const size_t slot = r / c.Hkv;
    const bool u = used[slot];
    for (int pass = 0; pass < 2; ++pass) {
      auto& st = pass ? vst : kst;
      auto& ref = pass ? vref : kref;
      auto& sc = pass ? vsc : ksc;
      const double layer = pass ? v_layer : k_layer;
      if (c.kind == kPagedInt8) sc[r] = u ? float(0.5 + 0.5 * std::abs(U(rng))) / 127.0f : NAN;
      for (int e = 0; e < c.D; ++e) {
        const size_t i = r * c.D + e;
        if (plain) {
          const double v = u ? U(rng) : NAN;
          store(c.kind, st, i, v);
          ref[i] = load(c.kind, st, i);
        } else if (c.kind == kPagedInt8) {
          const int8_t code = int8_t(int(std::lround(U(rng) * 127)));
          st[i] = uint8_t(code);
          ref[i] = double(code) * sc[r];
        } else {
          uint8_t code = uint8_t(rng() & 0xff);
          if ((code & 0x7f) == 0x7f) code ^= 1;
          if (!u) code = 0x7f;
          st[i] = code;
          ref[i] = fp8(code) * layer;
        }
      }
    }
  }
  for (auto [i, v] : c.table_edits) table[i] = v;
  const std::vector<int> cu_dev = c.cu_override.empty() ? cu : c.cu_override;
  const std::vector<int> lens_dev = c.lens_override.empty() ? c.kv_lens : c.lens_override;
  std::vector<unsigned char> q(size_t(T) * c.Hq * c.D * es_of(c.qdt)), out(q.size());
  for (size_t i = 0; i < size_t(T) * c.Hq * c.D; ++i) store(c.qdt, q, i, U(rng));
  const double poison = 12345.0;
  for (size_t i = 0; i < size_t(T) * c.Hq * c.D; ++i) store(c.qdt, out, i, poison);
  std::vector<float> lse(size_t(T) * c.Hq, float(poison));
  std::vector<unsigned char> out_poison(4);
  store(c.qdt, out_poison, 0, poison);

  int mq = c.max_q >= 0 ? c.max_q : *std::max_element(c.q_lens.begin(), c.q_lens.end());
  int mk = c.max_k >= 0 ? c.max_k : *std::max_element(c.kv_lens.begin(), c.kv_lens.end());
  mq = std::min(mq, T);
  mk = std::min(mk, max_blocks * c.bs);
  PagedAttnDesc d;
  d.cache.kind = c.kind;
  d.cache.num_blocks = nb, d.cache.block_size = c.bs, d.cache.Hkv = c.Hkv, d.cache.D = c.D;
  auto tens = [&](std::vector<unsigned char>& st, std::vector<float>& sc, float layer) {
    PagedCacheTensor t;
    t.ptr = reinterpret_cast<char*>(st.data());
    t.s_blk = int64_t(c.bs) * c.Hkv * c.D, t.s_slot = int64_t(c.Hkv) * c.D, t.s_head = c.D;
    if (c.kind == kPagedInt8) t.scales = sc.data(), t.sc_blk = c.bs * c.Hkv, t.sc_slot = c.Hkv, t.sc_head = 1;
    t.layer_scale = layer;
    return t;
  };
  d.cache.k = tens(kst, ksc, k_layer);
  d.cache.v = tens(vst, vsc, v_layer);
  d.cache.vec =
      reinterpret_cast<uintptr_t>(kst.data()) % 16 == 0 && reinterpret_cast<uintptr_t>(vst.data()) % 16 == 0;
  d.q = reinterpret_cast<char*>(q.data());
  d.out = reinterpret_cast<char*>(out.data());
  d.dt = c.qdt;
  d.q_st[0] = d.o_st[0] = int64_t(c.Hq) * c.D, d.q_st[1] = d.o_st[1] = c.D, d.q_st[2] = d.o_st[2] = 1;
  if (c.lse) d.lse = lse.data(), d.lse_st[0] = c.Hq, d.lse_st[1] = 1;
  d.tables = reinterpret_cast<const char*>(table.data()), d.tab_st[0] = max_blocks, d.tab_st[1] = 1;
  d.cu = reinterpret_cast<const char*>(cu_dev.data()), d.cu_st = 1;
  d.lens = reinterpret_cast<const char*>(lens_dev.data()), d.lens_st = 1;
  d.T = T, d.Hq = c.Hq, d.B = B, d.max_blocks = max_blocks;
  d.max_q = mq, d.max_k = mk;
  d.causal = c.causal, d.window = c.window;
  const float scale = float(1.0 / std::sqrt(double(c.D)));
  d.scale = scale;
  std::vector<float> part;
  if (c.prefill) {
    emu_paged_prefill(d);
  } else {
    PagedShape s;
    s.B = B, s.Hq = c.Hq, s.Hkv = c.Hkv, s.D = c.D, s.max_q = mq, s.max_k = mk;
    d.plan = plan_paged_attention(s, c.sms);
    if (d.plan.splits > 1) {
      part.assign(size_t(B) * mq * c.Hq * d.plan.splits * (c.D + 2), NAN);
      d.part = part.data();
    }
    emu_paged_attention(d);
  }
  // reference
  const int G = c.Hq / c.Hkv;
  std::vector<double> ro(size_t(T) * c.Hq * c.D, poison), rl(size_t(T) * c.Hq, poison);
  for (int b = 0; b < B; ++b) {
    const int c0 = std::clamp(cu_dev[b], 0, T), c1 = std::clamp(cu_dev[b + 1], 0, T);
    const int qlen = std::clamp(c1 - c0, 0, mq), len = std::clamp(lens_dev[b], 0, mk);
    for (int i = 0; i < qlen; ++i) {
      const int t = c0 + i;
      const long p = long(len) - qlen + i;
      const long hi = c.causal ? std::clamp<long>(p + 1, 0, len) : len;
      const long lo = c.window > 0 ? std::clamp<long>(p - c.window + 1, 0, len) : 0;
      for (int h = 0; h < c.Hq; ++h) {
        const int hk = h / G;
        std::vector<double> sc;
        std::vector<size_t> base;
        for (long j = lo; j < hi; ++j) {
          const int id = table[b * max_blocks + j / c.bs];
          if (id < 0 || id >= nb) continue;
          const size_t bs0 = ((size_t(id) * c.bs + j % c.bs) * c.Hkv + hk) * c.D;
          double s = 0;
          for (int e = 0; e < c.D; ++e) s += load(c.qdt, q, (size_t(t) * c.Hq + h) * c.D + e) * kref[bs0 + e];
          sc.push_back(s * scale);
          base.push_back(bs0);
        }
        double mx = -INFINITY, sum = 0;
        for (double s : sc) mx = std::max(mx, s);
        for (double& s : sc) sum += (s = std::exp(s - mx));
        for (int e = 0; e < c.D; ++e) {
          double acc = 0;
          for (size_t j = 0; j < sc.size(); ++j) acc += sc[j] * vref[base[j] + e];
          ro[(size_t(t) * c.Hq + h) * c.D + e] = sc.empty() ? 0.0 : acc / sum;
        }
        rl[size_t(t) * c.Hq + h] = sc.empty() ? -INFINITY : mx + std::log(sum);
      }
    }
  }
  int bad = 0;
  const double tol = c.qdt == 0 ? 2e-4 : c.qdt == 1 ? 4e-3 : 2.5e-2;
  for (size_t i = 0; i < ro.size(); ++i) {
    const double g = load(c.qdt, out, i), r = ro[i];
    const bool ok =
        r == poison ? g == load(c.qdt, out_poison, 0) : std::fabs(g - r) <= tol * (1 + std::fabs(r));
    if (!ok && bad++ < 5)
      std::printf("  out[t %zu h %zu e %zu]: got %g want %g\n", i / c.D / c.Hq, i / c.D % c.Hq, i % c.D, g,
                  r);
  }
  if (c.lse)
    for (size_t i = 0; i < rl.size(); ++i) {
      const double g = lse[i], r = rl[i];
      const bool ok = r == poison     ? g == poison
                      : std::isinf(r) ? (std::isinf(g) && g < 0)
                                      : std::fabs(g - r) <= 1e-3 * (1 + std::fabs(r));
      if (!ok && bad++ < 10) std::printf("  lse[t %zu h %zu]: got %g want %g\n", i / c.Hq, i % c.Hq, g, r);
    }
  std::printf(
      "%s seed %u: B %d T %d Hq %d Hkv %d D %d bs %d kind %d q %d causal %d window %d%s plan rows %d gh %d "
      "qp %d splits %d chunk %d: %s (%d bad)\n",
      c.prefill ? "prefill" : "split-kv", seed, B, T, c.Hq, c.Hkv, c.D, c.bs, c.kind, c.qdt, c.causal,
      c.window, c.nan_below_window ? " nan-below-window" : "", d.plan.rows, d.plan.group_heads,
      d.plan.q_per_cta, d.plan.splits, d.plan.chunk, bad ? "FAIL" : "ok", bad);
  std::fflush(stdout);
  return bad ? 1 : 0;
}

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  int fails = 0;
  uint32_t seed = 1;
  auto R = [&](Case c) { fails += run(c, seed++); };
  if (only.empty() || only == "decode") {
    for (int D : {64, 80, 96, 128, 256})
      for (int kind : {0, 1, 2, 3, 4}) {
        Case c{{1, 1, 1}, {1, 33, 300}};
        c.D = D, c.kind = kind, c.qdt = kind <= 2 ? kind : (D % 3);
        c.Hq = 8, c.Hkv = 2, c.bs = D == 64 ? 16 : D == 128 ? 64 : 32, c.lse = true;
        R(c);
      }
    Case split{{1, 1}, {1000, 7}};  // few CTAs: splits
    split.sms = 132, split.lse = true, split.Hq = 4, split.Hkv = 4;
    R(split);
    Case gqa{{1}, {700}};
    gqa.Hq = 32, gqa.Hkv = 2, gqa.lse = true, gqa.kind = 3, gqa.qdt = 0;  // G = 16: group tiles
    R(gqa);
  }
  if (only.empty() || only == "mixed") {
    Case m{{5, 1, 17, 2}, {40, 100, 17, 2}};
    m.lse = true, m.Hq = 6, m.Hkv = 2, m.kind = 2, m.qdt = 2;
    R(m);
    Case w = m;
    w.window = 9, w.kind = 1, w.qdt = 1;
    R(w);
    w.nan_below_window = true;
    R(w);
    Case nc = m;
    nc.causal = false, nc.window = 20, nc.kind = 4, nc.qdt = 0;
    R(nc);
    Case clamp{{1, 4, 1}, {40, 20, 33}};
    clamp.table_edits = {{1, 1 << 20}, {2, -5}};
    R(clamp);
    Case gap{{2, 8, 2}, {10, 20, 30}};
    gap.cu_override = {0, 12, 3, 5}, gap.max_q = 2, gap.lse = true;
    R(gap);
    Case lens{{1, 1}, {40, 20}};
    lens.lens_override = {40, 100000}, lens.max_k = 100000;
    R(lens);
    Case neg{{2, 1, 1}, {30, 20, 9}};
    neg.cu_override = {-5, 2, 3, 4}, neg.lens_override = {30, -7, 9},
    neg.table_edits = {{0, INT32_MIN}, {8, INT32_MAX}};
    R(neg);
  }
  if (only.empty() || only == "prefill") {
    for (int D : {64, 80, 96, 128, 256}) {
      Case p{{70, 3, 20}, {90, 3, 20}};
      p.D = D, p.prefill = true, p.lse = true, p.Hq = 2, p.Hkv = 1, p.kind = D % 2 ? 1 : (D == 80 ? 2 : 1);
      p.qdt = p.kind, p.bs = D == 96 ? 16 : 32;
      R(p);
    }
    Case pw{{66, 17}, {130, 17}};
    pw.prefill = true, pw.window = 20, pw.kind = pw.qdt = 2, pw.lse = true, pw.Hq = 2, pw.Hkv = 2;
    R(pw);
    pw.nan_below_window = true;
    R(pw);
    Case pn{{20, 16}, {50, 10}};
    pn.prefill = true, pn.causal = false, pn.window = 7, pn.table_edits = {{1, -1}}, pn.lse = true;
    R(pn);
  }
  std::printf("%s: %d failing cases\n", fails ? "FAIL" : "PASS", fails);
  return fails ? 1 : 0;
}
