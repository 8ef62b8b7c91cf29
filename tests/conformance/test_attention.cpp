// attention against the float64 reference: head dims, GQA/MQA, causal with Sq < Skv,
// ragged kv_lens (0 and past Skv), [B, S, H, D] caches via views, dtypes, decode.
#include <cmath>

#include "support/harness.h"

namespace porta::test {
namespace {

class Attention : public DeviceTest {};

struct AttnCase {
  int64_t B, Hq, Hkv, Sq, Skv, D;
  DType t;
  bool causal = false;
  std::vector<int32_t> lens;  // empty: none
  bool bshd_cache = false;    // K/V stored [B, S, H, D]
  Layout out_layout = Layout::contiguous;
  bool poison_tail = false;  // NaN in the cache slots past each kv length (must never be read)
};

void run(Stream& s, const AttnCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "B=" << c.B << " Hq=" << c.Hq << " Hkv=" << c.Hkv << " Sq=" << c.Sq
                                    << " Skv=" << c.Skv << " D=" << c.D << " " << dtype_name(c.t)
                                    << " causal=" << c.causal << " lens=" << c.lens.size()
                                    << " bshd=" << c.bshd_cache);
  const HostTensor q = random({c.B, c.Hq, c.Sq, c.D}, c.t, seed);
  const HostTensor k = random({c.B, c.Hkv, c.Skv, c.D}, c.t, seed + 1);
  const HostTensor v = random({c.B, c.Hkv, c.Skv, c.D}, c.t, seed + 2);
  Tensor Q = upload(s, q, c.t);
  const HostTensor k_dev = c.poison_tail ? nan_past_lengths(k, c.lens) : k;
  const HostTensor v_dev = c.poison_tail ? nan_past_lengths(v, c.lens) : v;
  Tensor K = c.bshd_cache ? upload(s, to_bshd(k_dev), c.t).transpose(1, 2) : upload(s, k_dev, c.t);
  Tensor V = c.bshd_cache ? upload(s, to_bshd(v_dev), c.t).transpose(1, 2) : upload(s, v_dev, c.t);
  GuardedOutput out(s, {c.B, c.Hq, c.Sq, c.D}, c.t, c.out_layout);
  check_attention(s, q, k, v, Q, K, V, out, c.t, c.causal, c.lens);
}

TEST_P(Attention, HeadDims) {
  Stream s(device());
  uint32_t seed = 1000;
  for (int64_t D : {64, 80, 96, 128, 256}) run(s, {1, 2, 2, 7, 33, D, DType::f32}, seed++);
}

TEST_P(Attention, PrefillShapesGqaAndCausal) {
  Stream s(device());
  uint32_t seed = 1100;
  for (int64_t Sq : {1, 7, 33})
    for (int64_t Skv : {1, 7, 33}) {
      if (Sq > Skv) continue;
      for (bool causal : {false, true}) run(s, {2, 4, 2, Sq, Skv, 64, DType::f32, causal}, seed++);
    }
  run(s, {1, 8, 1, 20, 40, 64, DType::f32, true}, seed++);  // MQA
  run(s, {1, 8, 2, 50, 50, 128, DType::f32, true}, seed++);
  run(s, {1, 4, 4, 100, 100, 80, DType::f32, false}, seed++);
}

TEST_P(Attention, RaggedKvLengths) {
  Stream s(device());
  AttnCase c{3, 4, 2, 5, 40, 64, DType::f32, false, {0, 17, 99}};
  run(s, c, 1200);
  c.causal = true;
  run(s, c, 1201);
  AttnCase d{3, 4, 1, 1, 300, 96, DType::f32, true, {300, 1, 123}};
  run(s, d, 1202);
}

// Cache slots past a kv length hold whatever the engine left there (NaN here): kernels must
// neither read them into the softmax nor multiply them by p = 0. Prefill and decode, every
// float dtype, lengths inside and at the ends of tiles, a [B, S, H, D] cache.
TEST_P(Attention, RaggedKvIgnoresCacheTail) {
  Stream s(device());
  uint32_t seed = 1250;
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    if (!supports("attention", t)) continue;
    for (bool causal : {false, true}) {
      AttnCase prefill{3, 4, 2, 20, 150, 64, t, causal, {0, 37, 128}};
      prefill.poison_tail = true;
      run(s, prefill, seed++);
      AttnCase decode{3, 8, 2, 1, 300, 128, t, causal, {1, 64, 257}};
      decode.poison_tail = true;
      run(s, decode, seed++);
    }
    AttnCase cache{2, 4, 2, 1, 100, 64, t, false, {33, 99}};
    cache.poison_tail = true;
    cache.bshd_cache = true;
    run(s, cache, seed++);
  }
}

TEST_P(Attention, CacheLayoutsAndStridedOutput) {
  Stream s(device());
  AttnCase c{2, 4, 2, 9, 33, 64, DType::f32, true};
  c.bshd_cache = true;
  c.out_layout = Layout::padded;
  run(s, c, 1300);
  AttnCase d{1, 8, 2, 1, 200, 128, DType::f32};
  d.bshd_cache = true;
  run(s, d, 1301);
}

TEST_P(Attention, HalfPrecision) {
  Stream s(device());
  uint32_t seed = 1400;
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports("attention", t)) continue;
    run(s, {1, 4, 2, 33, 33, 128, t, true}, seed++);
    run(s, {2, 8, 2, 1, 257, 64, t, false, {257, 100}}, seed++);
    run(s, {1, 2, 1, 7, 20, 256, t, false}, seed++);
  }
}

TEST_P(Attention, DecodeLongKv) {
  Stream s(device());
  run(s, {2, 8, 2, 1, 1000, 128, DType::f32}, 1500);
  run(s, {1, 4, 4, 3, 1000, 64, DType::f32, true}, 1501);
}

// Decode (few query rows) over every head dim and query-group shape: rows per kv head
// R = (Hq/Hkv)*Sq of 3, 4 and 16 exercise full and partial register tiles; causal with
// Sq > 1 gives rows that see different numbers of keys; Skv = 45 ends mid-block.
TEST_P(Attention, DecodeHeadDimsAndGroups) {
  Stream s(device());
  uint32_t seed = 1600;
  for (int64_t D : {64, 80, 96, 128, 256}) {
    run(s, {1, 4, 1, 1, 45, D, DType::f32, false}, seed++);  // R = 4
    run(s, {1, 6, 2, 1, 45, D, DType::f32, true}, seed++);   // R = 3
    run(s, {1, 8, 1, 2, 45, D, DType::f32, true}, seed++);   // R = 16
  }
  for (DType t : {DType::f16, DType::bf16}) {
    if (!supports("attention", t)) continue;
    run(s, {1, 6, 2, 3, 45, 80, t, true}, seed++);  // R = 9
    run(s, {1, 4, 1, 1, 45, 256, t, false}, seed++);
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Attention);
PORTA_INSTANTIATE_ON_DEVICES(Attention);

}  // namespace
}  // namespace porta::test
