// attention at the seams of tiled and split-KV kernels: query counts around the decode /
// prefill switch and query-block sizes, KV lengths one past key blocks and split chunks,
// multi-query decode (speculative) with causal masks and ragged lengths, and k and v in
// different layouts in one call.
#include <cmath>

#include "support/harness.h"

namespace porta::test {
namespace {

class AttentionBlocking : public DeviceTest {};

struct Case {
  int64_t B, Hq, Hkv, Sq, Skv, D;
  bool causal = false;
  std::vector<int32_t> lens;
  DType t = DType::f32;
  bool k_bshd = false;  // k stored [B, S, H, D]; v stays [B, H, S, D] with padded rows
};

void run(Stream& s, const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "B=" << c.B << " Hq=" << c.Hq << " Hkv=" << c.Hkv << " Sq=" << c.Sq
                                    << " Skv=" << c.Skv << " D=" << c.D << " causal=" << c.causal << " lens="
                                    << c.lens.size() << " " << dtype_name(c.t) << " k_bshd=" << c.k_bshd);
  const HostTensor q = random({c.B, c.Hq, c.Sq, c.D}, c.t, seed);
  const HostTensor k = random({c.B, c.Hkv, c.Skv, c.D}, c.t, seed + 1);
  const HostTensor v = random({c.B, c.Hkv, c.Skv, c.D}, c.t, seed + 2);
  Tensor Q = upload(s, q, c.t);
  Tensor K = c.k_bshd ? upload(s, to_bshd(k), c.t).transpose(1, 2) : upload(s, k, c.t);
  Tensor V = upload(s, v, c.t, c.k_bshd ? Layout::padded : Layout::contiguous);
  GuardedOutput out(s, {c.B, c.Hq, c.Sq, c.D}, c.t, Layout::padded);
  check_attention(s, q, k, v, Q, K, V, out, c.t, c.causal, c.lens);
}

TEST_P(AttentionBlocking, DecodePrefillSwitch) {
  Stream s(device());
  uint32_t seed = 9700;
  for (int64_t Sq : {2, 3, 4, 5, 6})
    for (bool causal : {false, true}) run(s, {2, 4, 2, Sq, 70, 64, causal, {70, 3}}, seed++);
}

TEST_P(AttentionBlocking, KeyBlocksAndSplitChunks) {
  Stream s(device());
  uint32_t seed = 9800;
  for (int64_t Skv : {63, 64, 65, 255, 257, 513}) {
    run(s, {1, 2, 1, 1, Skv, 128}, seed++);       // split-KV decode
    run(s, {1, 2, 2, 9, Skv, 64, true}, seed++);  // tiled prefill
    run(s, {2, 2, 1, 1, Skv, 96, false, {static_cast<int32_t>(Skv - 1), 1}}, seed++);
  }
}

TEST_P(AttentionBlocking, QueryBlocks) {
  Stream s(device());
  uint32_t seed = 9900;
  for (int64_t Sq : {47, 49, 97, 113}) run(s, {1, 2, 1, Sq, Sq, 64, true}, seed++);
  run(s, {1, 2, 2, 113, 300, 80, true, {}, DType::f32, true}, seed++);
  if (supports("attention", DType::bf16)) run(s, {2, 4, 1, 61, 130, 128, true, {130, 70}, DType::bf16, true}, seed++);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(AttentionBlocking);
PORTA_INSTANTIATE_ON_DEVICES(AttentionBlocking);

}  // namespace
}  // namespace porta::test
