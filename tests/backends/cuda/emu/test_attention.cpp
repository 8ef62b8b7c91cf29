// Dense attention kernels on the host emulator: split-KV decode (cp.async rings), FA2 sm80,
// the portable kernel and the combine pass, planned by attention_plan.cpp, against float64.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/attention_plan.h"
#include "kernels/cuda/kernel_args.h"

namespace porta::cuda {
void emu_attention_decode(const AttentionDesc& d);
void emu_attention_sm80(const AttentionDesc& d);
void emu_attention_simt(const AttentionDesc& d);
void emu_attention_combine(const AttentionDesc& d);
}  // namespace porta::cuda
using namespace porta;
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

// path: 0 auto (decode when eligible, else sm80 / simt by the planner), 1 simt forced, 2 sm80 forced
static void run(int B, int Hq, int Hkv, int Sq, int Skv, int D, int dt, bool causal, bool lens, int force) {
  std::mt19937 rng(B * 1000 + Sq * 31 + Skv + D);
  std::uniform_real_distribution<double> U(-1, 1);
  const size_t nq = size_t(B) * Hq * Sq * D, nk = size_t(B) * Hkv * Skv * D;
  std::vector<unsigned char> q(nq * es_of(dt)), k(nk * es_of(dt)), v(nk * es_of(dt)), o(nq * es_of(dt));
  for (size_t i = 0; i < nq; ++i) store(dt, q, i, U(rng)), store(dt, o, i, 777.0);
  for (size_t i = 0; i < nk; ++i) store(dt, k, i, U(rng)), store(dt, v, i, U(rng));
  std::vector<int32_t> kvl(B);
  for (int b = 0; b < B; ++b) kvl[b] = lens ? (b == 0 ? Skv : b == 1 ? 0 : int(rng() % (Skv + 1))) : Skv;
  auto td = [&](std::vector<unsigned char>& buf, int H, int S) {
    TDesc t;
    t.ptr = reinterpret_cast<char*>(buf.data()), t.dtype = dt;
    t.shape[0] = B, t.shape[1] = H, t.shape[2] = S, t.shape[3] = D;
    t.strides[0] = int64_t(H) * S * D, t.strides[1] = int64_t(S) * D, t.strides[2] = D, t.strides[3] = 1;
    return t;
  };
  AttentionDesc d;
  d.q = td(q, Hq, Sq), d.k = td(k, Hkv, Skv), d.v = td(v, Hkv, Skv), d.out = td(o, Hq, Sq);
  if (lens) {
    d.kv_lens.ptr = reinterpret_cast<char*>(kvl.data()), d.kv_lens.dtype = kI32;
    d.kv_lens.shape[3] = B, d.kv_lens.strides[3] = 1;
  }
  d.B = B, d.Hq = Hq, d.Hkv = Hkv, d.Sq = Sq, d.Skv = Skv, d.D = D;
  d.scale = float(1 / std::sqrt(double(D))), d.causal = causal;
  AttnShape s;
  s.B = B, s.Hq = Hq, s.Hkv = Hkv, s.Sq = Sq, s.Skv = Skv, s.D = D;
  s.q = s.k = s.v = dt == 0 ? DType::f32 : dt == 1 ? DType::f16 : DType::bf16;
  for (int i = 0; i < 4; ++i)
    s.q_strides[i] = d.q.strides[i], s.k_strides[i] = d.k.strides[i], s.v_strides[i] = d.v.strides[i];
  s.q_addr = uintptr_t(q.data()), s.k_addr = uintptr_t(k.data()), s.v_addr = uintptr_t(v.data());
  AttnDeviceFacts f;
  f.cc_major = 8, f.sm_count = 108, f.smem_per_block = force == 3 ? 232448 : 166912;
  const AttnPlan p = plan_attention(s, f,
                                    force == 1   ? AttnForce::simt
                                    : force == 2 ? AttnForce::sm80
                                                 : AttnForce::none);
  std::vector<float> po, pml;
  if (p.path == AttnPath::sm80) {
    emu_attention_sm80(d);
  } else {
    d.rows_per_block = p.rows_per_block, d.key_tile = p.key_tile, d.splits = p.splits,
    d.split_keys = p.split_keys;
    d.vec_kv = dt != 0 && D % 8 == 0;
    if (d.splits > 1) {
      po.assign(size_t(d.splits) * B * Hq * Sq * D, NAN), pml.assign(size_t(d.splits) * B * Hq * Sq * 2, NAN);
      d.part_o = po.data(), d.part_ml = pml.data();
    }
    if (p.path == AttnPath::decode)
      emu_attention_decode(d);
    else
      emu_attention_simt(d);
    if (d.splits > 1) emu_attention_combine(d);
  }
  int bad = 0;
  const int G = Hq / Hkv;
  const double tol = dt == 0 ? 2e-4 : dt == 1 ? 4e-3 : 2.5e-2;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hq; ++h)
      for (int i = 0; i < Sq; ++i) {
        const int len = kvl[b];
        const long lim = causal ? std::clamp<long>(long(i) + len - Sq + 1, 0, len) : len;
        std::vector<double> sc(lim);
        double mx = -INFINITY;
        for (long j = 0; j < lim; ++j) {
          double a = 0;
          for (int e = 0; e < D; ++e)
            a += load(dt, q, ((size_t(b) * Hq + h) * Sq + i) * D + e) *
                 load(dt, k, ((size_t(b) * Hkv + h / G) * Skv + j) * D + e);
          sc[j] = a * d.scale, mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& x : sc) sum += (x = std::exp(x - mx));
        for (int e = 0; e < D; ++e) {
          double acc = 0;
          for (long j = 0; j < lim; ++j)
            acc += sc[j] * load(dt, v, ((size_t(b) * Hkv + h / G) * Skv + j) * D + e);
          const double want = lim ? acc / sum : 0.0,
                       got = load(dt, o, ((size_t(b) * Hq + h) * Sq + i) * D + e);
          if (!(std::fabs(got - want) <= tol * (1 + std::fabs(want))) && bad++ < 3)
            std::printf("  [b %d h %d i %d e %d] got %g want %g\n", b, h, i, e, got, want);
        }
      }
  std::printf("attention %s B %d Hq %d Hkv %d Sq %d Skv %d D %d dt %d%s%s splits %d: %s\n",
              attn_path_name(p.path), B, Hq, Hkv, Sq, Skv, D, dt, causal ? " causal" : "",
              lens ? " kv_lens" : "", p.path == AttnPath::sm80 ? 1 : p.splits, bad ? "FAIL" : "ok");
  std::fflush(stdout);
  fails += bad != 0;
}

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "decode") {
    for (int D : {64, 128, 256})
      for (int dt : {1, 2}) {
        run(2, 8, 2, 1, 700, D, dt, true, true, 0);   // G = 4: 4 rows, splits
        run(1, 4, 4, 1, 37, D, dt, true, false, 0);   // 1 row, odd length
        run(2, 8, 1, 1, 300, D, dt, false, true, 0);  // G = 8
      }
    run(1, 4, 2, 2, 100, 128, 1, true, false, 0);  // Sq = 2, G = 2: 4 rows, causal
    run(2, 8, 2, 1, 700, 256, 1, true, true, 3);   // D = 256 decode where 227 KiB fit (H100)
    run(1, 8, 1, 1, 45, 256, 2, false, false, 3);
  }
  if (only.empty() || only == "sm80") {
    for (int D : {64, 80, 96, 128, 256}) {
      run(2, 2, 1, 70, 90, D, D == 80 ? 2 : 1, true, true, 0);
      run(1, 2, 2, 17, 150, D, 2, false, false, 2);
    }
  }
  if (only.empty() || only == "simt") {
    run(2, 4, 2, 5, 200, 64, 0, true, true, 1);
    run(1, 6, 2, 3, 70, 80, 1, true, false, 1);
    run(1, 2, 1, 20, 30, 256, 2, true, true, 1);
    run(2, 4, 1, 1, 1000, 96, 0, false, true, 0);
  }
  std::printf("%s: %d failing\n", fails ? "FAIL" : "PASS", fails);
  return fails != 0;
}
