// paged_cache.cu on the host emulator: kv_cache_write (every cache kind, strided inputs, bad
// slots) and copy_blocks (bad pairs), against the cpu backend's rules.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/paged_args.h"

namespace porta::cuda {
void emu_kv_write(const KvWriteDesc& d);
void emu_copy_blocks(const CopyBlocksDesc& d);
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

static int fails = 0;

static void check(int kind, int idt, int D, int bs, int Hkv, bool slots64, bool head_major) {
  std::mt19937 rng(kind * 100 + D + bs);
  std::uniform_real_distribution<double> U(-2, 2);
  const int nb = 5, T = 11;
  const bool plain = kind <= kPagedBF16;
  const int ces = plain ? es_of(kind) : 1;
  const size_t elems = size_t(nb) * bs * Hkv * D;
  std::vector<unsigned char> kc(elems * ces, 0xab), vc(elems * ces, 0xab);
  std::vector<float> ks(size_t(nb) * bs * Hkv, -1.0f), vs = ks;
  // cache strides: [nb, bs, Hkv, D] or head-major [nb, Hkv, bs, D] seen as [nb, bs, Hkv, D]
  const int64_t s_blk = int64_t(bs) * Hkv * D, s_slot = head_major ? D : int64_t(Hkv) * D,
                s_head = head_major ? int64_t(bs) * D : D;
  PagedCacheDesc c;
  c.kind = kind, c.num_blocks = nb, c.block_size = bs, c.Hkv = Hkv, c.D = D;
  c.k.ptr = reinterpret_cast<char*>(kc.data()), c.v.ptr = reinterpret_cast<char*>(vc.data());
  for (auto* t : {&c.k, &c.v}) t->s_blk = s_blk, t->s_slot = s_slot, t->s_head = s_head;
  if (kind == kPagedInt8) {
    c.k.scales = ks.data(), c.v.scales = vs.data();
    for (auto* t : {&c.k, &c.v}) t->sc_blk = int64_t(bs) * Hkv, t->sc_slot = Hkv, t->sc_head = 1;
  }
  c.k.layer_scale = 0.05f, c.v.layer_scale = 3.0f;
  c.vec = true;  // bases from new[] (16-aligned), rows multiples of 16 bytes
  // inputs k, v [T, Hkv, D] with a padded token stride and element stride 1 (k) / 2 (v)
  const int64_t kst[3] = {int64_t(Hkv) * D + 8, D, 1}, vst[3] = {int64_t(Hkv) * D * 2, int64_t(D) * 2, 2};
  std::vector<unsigned char> kin(size_t(T) * kst[0] * es_of(idt)), vin(size_t(T) * vst[0] * es_of(idt));
  for (size_t i = 0; i < kin.size() / es_of(idt); ++i) store(idt, kin, i, U(rng) * (i % 5 == 0 ? 100 : 1));
  for (size_t i = 0; i < vin.size() / es_of(idt); ++i) store(idt, vin, i, U(rng));
  const int cap = nb * bs;
  std::vector<int64_t> slots(T);
  for (int t = 0; t < T; ++t)
    slots[t] = t == 3 ? -1 : t == 5 ? cap : t == 7 ? int64_t(1) << 40 : (t * 7 + 2) % cap;
  if (!slots64) slots[7] = -7;
  std::vector<int32_t> slots32(slots.begin(), slots.end());
  KvWriteDesc d;
  d.cache = c;
  d.k = reinterpret_cast<const char*>(kin.data()), d.v = reinterpret_cast<const char*>(vin.data());
  d.in_dt = idt;
  for (int i = 0; i < 3; ++i) d.k_st[i] = kst[i], d.v_st[i] = vst[i];
  d.slots =
      slots64 ? reinterpret_cast<const char*>(slots.data()) : reinterpret_cast<const char*>(slots32.data());
  d.slot_st = 1, d.slots64 = slots64, d.T = T;
  const std::vector<unsigned char> k0 = kc;
  emu_kv_write(d);
  int bad = 0;
  std::vector<char> written(size_t(nb) * bs, 0);
  for (int t = 0; t < T; ++t) {
    const int64_t s = slots64 ? slots[t] : slots32[t];
    if (s < 0 || s >= cap) continue;
    written[s] = 1;
    const int64_t blk = s / bs, off = s % bs;
    for (int pass = 0; pass < 2; ++pass) {
      const auto& in = pass ? vin : kin;
      const int64_t* st = pass ? vst : kst;
      const auto& cc = pass ? vc : kc;
      const PagedCacheTensor& ct = pass ? c.v : c.k;
      for (int h = 0; h < Hkv; ++h) {
        std::vector<float> x(D);
        for (int e = 0; e < D; ++e) x[e] = float(load(idt, in, size_t(t * st[0] + h * st[1] + e * st[2])));
        const size_t dst = size_t(blk * s_blk + off * s_slot + h * s_head);
        float amax = 0;
        for (float v : x) amax = std::max(amax, std::fabs(v));
        const float inv = amax > 0 ? 127.0f / amax : 0.0f;
        for (int e = 0; e < D; ++e) {
          bool ok;
          if (plain) {
            std::vector<unsigned char> tmp(4);
            store(kind, tmp, 0, x[e]);
            ok = load(kind, cc, dst + e) == load(kind, tmp, 0);
          } else if (kind == kPagedInt8) {
            const int want = int(std::clamp(std::nearbyint(x[e] * inv), -127.0f, 127.0f));
            ok = int(int8_t(cc[dst + e])) == want;
          } else {
            ok = cc[dst + e] == host_fp8(x[e] / ct.layer_scale);
          }
          if (!ok && bad++ < 3) std::printf("  t %d h %d e %d pass %d\n", t, h, e, pass);
        }
        if (kind == kPagedInt8) {
          const float sc = (pass ? vs : ks)[size_t(blk) * bs * Hkv + off * Hkv + h];
          if (sc != amax / 127.0f && bad++ < 3)
            std::printf("  scale t %d h %d: %g vs %g\n", t, h, sc, amax / 127.0f);
        }
      }
    }
  }
  // untouched slots keep their bytes
  for (int s = 0; s < cap; ++s)
    if (!written[s])
      for (int h = 0; h < Hkv; ++h)
        for (int e = 0; e < D * ces; ++e) {
          const size_t i = size_t((s / bs) * s_blk + (s % bs) * s_slot + h * s_head) * ces + e;
          if (kc[i] != k0[i] && bad++ < 3) std::printf("  slot %d written\n", s);
        }
  std::printf("kv_cache_write kind %d in %d D %d bs %d Hkv %d%s%s: %s\n", kind, idt, D, bs, Hkv,
              slots64 ? " i64" : " i32", head_major ? " head-major" : "", bad ? "FAIL" : "ok");
  fails += bad != 0;
  // copy_blocks: (0 -> 4), (2 -> 1), bad ids, src == dst
  const std::vector<unsigned char> kb = kc, vb = vc;
  const std::vector<float> ksb = ks, vsb = vs;
  std::vector<int64_t> map = {0, 4, 2, 1, -1, 3, 3, 3, 1, 99, 3, int64_t(1) << 35};
  std::vector<int32_t> map32(map.begin(), map.end());
  map32[11] = 7;
  CopyBlocksDesc cb;
  cb.cache = c;
  cb.mapping =
      slots64 ? reinterpret_cast<const char*>(map.data()) : reinterpret_cast<const char*>(map32.data());
  cb.map_st[0] = 2, cb.map_st[1] = 1, cb.map64 = slots64, cb.N = 6;
  emu_copy_blocks(cb);
  bad = 0;
  auto blk_eq = [&](int dst, int src) {
    for (int s = 0; s < bs; ++s)
      for (int h = 0; h < Hkv; ++h) {
        const size_t a = size_t(dst * s_blk + s * s_slot + h * s_head) * ces,
                     b = size_t(src * s_blk + s * s_slot + h * s_head) * ces;
        if (memcmp(&kc[a], &kb[b], D * ces) || memcmp(&vc[a], &vb[b], D * ces)) return false;
        if (kind == kPagedInt8) {
          const size_t sa = size_t(dst) * bs * Hkv + s * Hkv + h, sb = size_t(src) * bs * Hkv + s * Hkv + h;
          if (ks[sa] != ksb[sb] || vs[sa] != vsb[sb]) return false;
        }
      }
    return true;
  };
  if (!blk_eq(4, 0)) bad++, std::printf("  block 4 != old block 0\n");
  if (!blk_eq(1, 2)) bad++, std::printf("  block 1 != old block 2\n");
  for (int b : {0, 2, 3})
    if (!blk_eq(b, b)) bad++, std::printf("  block %d changed\n", b);
  std::printf("copy_blocks kind %d D %d bs %d Hkv %d%s: %s\n", kind, D, bs, Hkv, slots64 ? " i64" : " i32",
              bad ? "FAIL" : "ok");
  fails += bad != 0;
}

int main() {
  for (int kind = 0; kind < 5; ++kind)
    for (int D : {64, 80, 256}) check(kind, (kind + D) % 3, D, D == 80 ? 16 : 32, 2, D != 80, D == 64);
  check(3, 0, 96, 64, 3, true, true);
  check(4, 2, 128, 16, 1, false, false);
  std::printf("%s: %d failing\n", fails ? "FAIL" : "PASS", fails);
  return fails != 0;
}
