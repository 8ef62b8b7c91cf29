// Paged attention planning (paged_plan.h), checked without a GPU: rows per CTA over the GQA
// group and query positions, the grid, and KV splits that fill the device only when needed.
#include <gtest/gtest.h>

#include "backends/cuda/gemm_plan.h"
#include "backends/cuda/paged_plan.h"

namespace porta::cuda {
namespace {

PagedShape shape(int64_t B, int64_t Hq, int64_t Hkv, int64_t max_q, int64_t max_k, int64_t D = 128) {
  PagedShape s;
  s.B = B, s.Hq = Hq, s.Hkv = Hkv, s.D = D, s.max_q = max_q, s.max_k = max_k;
  return s;
}

// Every key below max_k lies in exactly one split; no split is empty; chunks are whole 64-key pieces.
void expect_splits_cover(const PagedLaunch& p, int64_t max_k) {
  EXPECT_EQ(p.chunk % 64, 0);
  EXPECT_GE(int64_t{p.chunk} * p.splits, max_k);
  if (p.splits > 1) {
    EXPECT_LT(int64_t{p.chunk} * (p.splits - 1), max_k);
  }
}

TEST(CudaPagedPlan, DecodeTargetSharesEachKvLoadAcrossTheGroupAndFillsTheDevice) {
  // B = 16, Hq 32, Hkv 8, KV 4096 on 132 SMs: 4 query heads per CTA, 128 CTAs < 528 -> 5 splits.
  const PagedLaunch p = plan_paged_attention(shape(16, 32, 8, 1, 4096), 132);
  EXPECT_EQ(p.group_heads, 4);
  EXPECT_EQ(p.q_per_cta, 1);
  EXPECT_EQ(p.rows, 4);
  EXPECT_EQ(p.g_tiles, 1);
  EXPECT_EQ(p.q_tiles, 1);
  EXPECT_EQ(p.splits, 5);
  EXPECT_EQ(p.chunk, 832);
  EXPECT_EQ(p.ctas, 16 * 8 * 5);
  expect_splits_cover(p, 4096);
}

TEST(CudaPagedPlan, RowsTileLargeGroupsAndQueryPositions) {
  // MHA (G = 1): 8 query positions per CTA; G = 16: two head tiles of 8; G = 6: 6 rows in 8.
  PagedLaunch p = plan_paged_attention(shape(2, 8, 8, 33, 100), 108);
  EXPECT_EQ(p.group_heads, 1);
  EXPECT_EQ(p.q_per_cta, 8);
  EXPECT_EQ(p.rows, 8);
  EXPECT_EQ(p.q_tiles, 5);
  EXPECT_EQ(p.ctas, 2 * 5 * 8);
  EXPECT_EQ(p.splits, 1);  // 100 keys: never split
  p = plan_paged_attention(shape(1, 32, 2, 1, 64), 108);
  EXPECT_EQ(p.group_heads, 8);
  EXPECT_EQ(p.g_tiles, 2);
  EXPECT_EQ(p.rows, 8);
  p = plan_paged_attention(shape(3, 12, 2, 7, 40), 108);
  EXPECT_EQ(p.group_heads, 6);
  EXPECT_EQ(p.q_per_cta, 1);
  EXPECT_EQ(p.rows, 8);
  EXPECT_EQ(p.q_tiles, 7);
  // Two positions of a G = 4 group per CTA, but never more positions than the longest query.
  p = plan_paged_attention(shape(1, 8, 2, 1, 40), 108);
  EXPECT_EQ(p.q_per_cta, 1);
  EXPECT_EQ(p.rows, 4);
  p = plan_paged_attention(shape(1, 8, 2, 5, 40), 108);
  EXPECT_EQ(p.q_per_cta, 2);
  EXPECT_EQ(p.q_tiles, 3);
}

TEST(CudaPagedPlan, SplitsOnlyWhenTheGridIsSmallAndBoundedEveryWay) {
  // Enough CTAs already: one split, a chunk covering every key.
  PagedLaunch p = plan_paged_attention(shape(128, 32, 8, 1, 100000), 132);
  EXPECT_EQ(p.splits, 1);
  expect_splits_cover(p, 100000);
  // One sequence, one KV head, 1M keys: at most 64 splits.
  p = plan_paged_attention(shape(1, 8, 1, 1, 1 << 20), 132);
  EXPECT_EQ(p.splits, 64);
  expect_splits_cover(p, 1 << 20);
  // Splits of at least 256 keys: 700 keys -> 3.
  p = plan_paged_attention(shape(1, 8, 1, 1, 700), 132);
  EXPECT_EQ(p.splits, 3);
  expect_splits_cover(p, 700);
  // 256 keys or fewer: never split; zero keys: one empty split.
  EXPECT_EQ(plan_paged_attention(shape(1, 8, 1, 1, 256), 132).splits, 1);
  p = plan_paged_attention(shape(1, 8, 1, 1, 0), 132);
  EXPECT_EQ(p.splits, 1);
  EXPECT_EQ(p.chunk, 64);
  for (int64_t k : {257, 1000, 4097, 65537})
    expect_splits_cover(plan_paged_attention(shape(2, 4, 2, 1, k), 8), k);
}

TEST(CudaPagedPlan, DeterministicSmCountFixesTheSplit) {
  // PORTA_DETERMINISTIC plans with kDeterministicPartitionSms whatever the part: the same
  // shape gets the same split on any device; the real SM count may differ.
  const PagedShape s = shape(4, 32, 8, 1, 8192);
  const PagedLaunch a = plan_paged_attention(s, kDeterministicPartitionSms);
  const PagedLaunch b = plan_paged_attention(s, kDeterministicPartitionSms);
  EXPECT_EQ(a.splits, b.splits);
  EXPECT_EQ(a.chunk, b.chunk);
  EXPECT_NE(plan_paged_attention(s, 16).splits, plan_paged_attention(s, 132).splits);
}

TEST(CudaPagedPlan, TensorCorePrefillOnlyWhereItApplies) {
  PagedPathQuery q;
  q.tc_compiled = true, q.cc_major = 9, q.eligible = true, q.B = 4, q.Hq = 32, q.D = 128, q.max_q = 512;
  q.smem_per_block = 227 * 1024;
  EXPECT_TRUE(paged_use_tensor_cores(q));
  // Shared memory: Q (64 rows) + 2 stages of K and V tiles, rows padded by 8 halves, + flags.
  EXPECT_EQ(paged_prefill_sm80_smem_bytes(128), 2 * 136 * (64 + 4 * 64) + 2 * 64);
  EXPECT_EQ(paged_prefill_sm80_smem_bytes(256), 2 * 264 * (64 + 4 * 32) + 2 * 32);
  PagedPathQuery x = q;
  x.max_q = 1;  // decode: the split-KV kernel shares each K/V load across the GQA group
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x.force = AttnForce::sm80;  // forced: any query count
  EXPECT_TRUE(paged_use_tensor_cores(x));
  x = q, x.force = AttnForce::simt;
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x = q, x.eligible = false;  // int8/fp8/f32 caches, unaligned rows
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x = q, x.tc_compiled = false;  // hip
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x = q, x.cc_major = 7;
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x = q, x.B = 2048;  // B * Hq past grid.y's 65535
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x = q, x.D = 256, x.smem_per_block = 99 * 1024;  // 99 KiB parts: D = 256 does not fit
  EXPECT_FALSE(paged_use_tensor_cores(x));
  x.D = 128;
  EXPECT_TRUE(paged_use_tensor_cores(x));
}

TEST(CudaPagedPlan, TuningRowDrivesTheSplit) {
  // The decode target with one CTA per SM wanted instead of four: 132 / 128 -> 2 splits.
  PagedTuning t = kPagedTuning;
  t.ctas_per_sm = 1;
  const PagedLaunch p = plan_paged_attention(shape(16, 32, 8, 1, 4096), 132, t);
  EXPECT_EQ(p.splits, 2);
  EXPECT_EQ(p.chunk, 2048);
  t = kPagedTuning;
  t.max_rows = 4;  // G = 8 in two head tiles
  EXPECT_EQ(plan_paged_attention(shape(1, 8, 1, 1, 64), 132, t).g_tiles, 2);
}

}  // namespace
}  // namespace porta::cuda
