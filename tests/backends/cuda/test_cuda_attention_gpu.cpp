// GPU checks of the CUDA attention kernels the planner picks by itself on NVIDIA devices:
// shapes that take the FA3 sm90 kernel on an H100 (f16/bf16, Sq >= 16, D 64/128/256: several
// query and key tiles, ring wrap-around, causal with Sq < Skv, GQA, ragged and empty
// kv_lens, [B, S, H, D] caches) and the split-KV decode kernel (rows per kv head 1..8, many
// splits, empty splits, causal with Sq > 1). Against the float64 reference, like the
// conformance suite; with no CUDA device no instance runs.
#include "support/harness.h"

namespace porta::test {
namespace {

class CudaAttentionKernels : public DeviceTest {};

struct Case {
  int64_t B, Hq, Hkv, Sq, Skv, D;
  bool causal = false;
  std::vector<int32_t> lens;
  bool bshd_cache = false;
  // NaN in the cache positions at and past each batch's kv length: a kernel that reads them
  // (even to multiply by p = 0) turns rows into NaN.
  bool poison_tail = false;
};

void run(Stream& s, DType t, const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "B=" << c.B << " Hq=" << c.Hq << " Hkv=" << c.Hkv << " Sq=" << c.Sq
                                    << " Skv=" << c.Skv << " D=" << c.D << " " << dtype_name(t) << " causal="
                                    << c.causal << " lens=" << c.lens.size() << " bshd=" << c.bshd_cache);
  const HostTensor q = random({c.B, c.Hq, c.Sq, c.D}, t, seed);
  const HostTensor k = random({c.B, c.Hkv, c.Skv, c.D}, t, seed + 1);
  const HostTensor v = random({c.B, c.Hkv, c.Skv, c.D}, t, seed + 2);
  Tensor Q = upload(s, q, t);
  const HostTensor k_dev = c.poison_tail ? nan_past_lengths(k, c.lens) : k;
  const HostTensor v_dev = c.poison_tail ? nan_past_lengths(v, c.lens) : v;
  Tensor K = c.bshd_cache ? upload(s, to_bshd(k_dev), t).transpose(1, 2) : upload(s, k_dev, t);
  Tensor V = c.bshd_cache ? upload(s, to_bshd(v_dev), t).transpose(1, 2) : upload(s, v_dev, t);
  GuardedOutput out(s, {c.B, c.Hq, c.Sq, c.D}, t);
  check_attention(s, q, k, v, Q, K, V, out, t, c.causal, c.lens);
}

TEST_P(CudaAttentionKernels, PrefillTiles) {
  Stream s(device());
  uint32_t seed = 7000;
  for (DType t : {DType::bf16, DType::f16}) {
    if (!supports(t)) continue;
    for (bool causal : {false, true}) {
      run(s, t, {1, 4, 2, 300, 300, 128, causal}, seed++);  // 3 x 3 tiles, partial last ones
      run(s, t, {2, 2, 1, 130, 520, 64, causal}, seed++);   // Sq < Skv: causal offset
      run(s, t, {1, 2, 2, 200, 333, 256, causal}, seed++);  // 64-key tiles: the ring wraps
    }
    run(s, t, {1, 8, 1, 16, 16, 128, true}, seed++);  // MQA, one partial tile
    // More than 6 key tiles: every stage of the 3-stage ring is reused, so the empty
    // barriers' second phase (parity 1) is waited on.
    for (bool causal : {false, true}) {
      run(s, t, {1, 2, 1, 256, 1100, 128, causal}, seed++);
      run(s, t, {1, 2, 2, 130, 1500, 64, causal}, seed++);
    }
  }
}

TEST_P(CudaAttentionKernels, PrefillRaggedAndCacheLayout) {
  Stream s(device());
  uint32_t seed = 7100;
  for (DType t : {DType::bf16, DType::f16}) {
    if (!supports(t)) continue;
    // len 0: all-zero rows; len 130 < Sq: the first causal rows see no key.
    run(s, t, {3, 4, 2, 150, 400, 128, true, {0, 130, 400}}, seed++);
    run(s, t, {3, 4, 2, 150, 400, 64, false, {0, 130, 400}}, seed++);
    Case c{2, 4, 2, 64, 200, 128, true};
    c.bshd_cache = true;
    run(s, t, c, seed++);
    // NaN past each kv length (edge tiles of the prefill kernels must not read it).
    for (int64_t D : {64, 128, 256}) {
      Case p{3, 4, 2, 150, 400, D, true, {0, 130, 333}};
      p.poison_tail = true;
      run(s, t, p, seed++);
    }
  }
}

TEST_P(CudaAttentionKernels, DecodeRowsAndSplits) {
  Stream s(device());
  uint32_t seed = 7200;
  for (DType t : {DType::bf16, DType::f16}) {
    if (!supports(t)) continue;
    run(s, t, {16, 32, 8, 1, 2000, 128}, seed++);                 // 4 rows per kv head, split KV
    run(s, t, {1, 8, 8, 1, 5000, 64}, seed++);                    // 1 row, many splits
    run(s, t, {2, 16, 2, 1, 777, 256, false, {777, 3}}, seed++);  // 8 rows, empty splits
    run(s, t, {1, 8, 4, 4, 300, 128, true}, seed++);              // Sq = 4 x G = 2, causal
    run(s, t, {2, 4, 4, 2, 1000, 64, true, {1000, 0}}, seed++);   // a batch with no keys
    Case c{2, 8, 2, 1, 600, 128};
    c.bshd_cache = true;
    run(s, t, c, seed++);
    Case p{2, 16, 4, 1, 900, 128, false, {900, 517}};  // NaN past the shorter cache's end
    p.poison_tail = true;
    run(s, t, p, seed++);
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaAttentionKernels);
PORTA_INSTANTIATE_ON_DEVICES(CudaAttentionKernels);

}  // namespace
}  // namespace porta::test
