// Attention host logic, checked without a GPU: which kernel the planner picks (FA3 sm90,
// FA2 sm80, split-KV decode, portable), its tiles and splits, and the shared-memory layout
// of the sm90 kernel against the PTX ISA's canonical wgmma layouts.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "backends/cuda/attention_plan.h"
#include "kernels/cuda/attention_sm90_layout.cuh"

namespace porta::cuda {
namespace {

AttnShape shape(int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Skv, int64_t D,
                DType t = DType::bf16) {
  AttnShape s;
  s.B = B, s.Hq = Hq, s.Hkv = Hkv, s.Sq = Sq, s.Skv = Skv, s.D = D, s.q = s.k = s.v = t;
  int64_t* st[3] = {s.q_strides, s.k_strides, s.v_strides};
  const int64_t heads[3] = {Hq, Hkv, Hkv}, seq[3] = {Sq, Skv, Skv};
  for (int i = 0; i < 3; ++i) {  // contiguous [B, H, S, D]
    st[i][3] = 1, st[i][2] = D, st[i][1] = seq[i] * D, st[i][0] = heads[i] * seq[i] * D;
  }
  s.q_addr = 0x1000, s.k_addr = 0x2000, s.v_addr = 0x3000;
  return s;
}

// nvidia_paths, sm90_kernel, opt-in shared memory per block.
const AttnDeviceFacts kH100{9, 132, true, true, 227 * 1024};
const AttnDeviceFacts kA100{8, 108, true, true, 163 * 1024};
const AttnDeviceFacts kRtx4090{8, 128, true, true, 99 * 1024};
const AttnDeviceFacts kHip{9, 110, false, false, 64 * 1024};

AttnPath path(const AttnShape& s, const AttnDeviceFacts& dev, AttnForce f = AttnForce::none) {
  return plan_attention(s, dev, f).path;
}

TEST(CudaAttentionPlan, DecodeTargetTakesTheDecodeKernelInOneWave) {
  // B=16, KV=8192, GQA 32/8, D=128: 128 blocks; 2 resident per SM (100 KiB each) -> 2 splits.
  const AttnPlan p = plan_attention(shape(16, 32, 8, 1, 8192, 128), kH100, AttnForce::none);
  EXPECT_EQ(p.path, AttnPath::decode);
  EXPECT_EQ(p.rows_per_block, 4);  // G = 4 query heads per kv head
  EXPECT_EQ(p.splits, 2);
  EXPECT_EQ(p.split_keys, 4096);
  EXPECT_LE(int64_t(p.splits) * 16 * 8, 2 * 132);  // never more blocks than resident slots
  // One kv head per query head, batch 1: many splits, each >= 256 keys, a multiple of 64.
  const AttnPlan one = plan_attention(shape(1, 32, 32, 1, 8192, 128), kH100, AttnForce::none);
  EXPECT_EQ(one.path, AttnPath::decode);
  EXPECT_EQ(one.splits, 8);  // 264 slots / 32 blocks
  EXPECT_EQ(one.split_keys, 1024);
  for (int64_t skv : {1, 63, 64, 65, 255, 257, 1000, 4097, 100000}) {
    const AttnPlan t = plan_attention(shape(1, 8, 8, 1, skv, 64), kH100, AttnForce::none);
    EXPECT_EQ(t.path, AttnPath::decode) << skv;
    EXPECT_EQ(t.split_keys % 64, 0) << skv;
    EXPECT_GE(t.split_keys, 64) << skv;
    EXPECT_LE(t.splits, 64) << skv;
    EXPECT_GE(int64_t(t.splits) * t.split_keys, skv) << skv;      // covers every key
    EXPECT_LT(int64_t(t.splits - 1) * t.split_keys, skv) << skv;  // no split starts past the end
    if (t.splits > 1) {
      EXPECT_GE(t.split_keys, 256) << skv;
    }
  }
  EXPECT_EQ(plan_attention(shape(1, 1, 1, 1, 0, 64), kH100, AttnForce::none).splits, 1);
}

TEST(CudaAttentionPlan, DecodeEligibility) {
  EXPECT_EQ(path(shape(2, 8, 8, 8, 512, 128), kH100), AttnPath::decode);   // Sq*G = 8
  EXPECT_EQ(path(shape(2, 16, 8, 4, 512, 128), kH100), AttnPath::decode);  // 4 x 2
  EXPECT_EQ(path(shape(2, 32, 2, 1, 512, 128), kH100), AttnPath::simt);    // G = 16 rows
  EXPECT_EQ(path(shape(2, 8, 8, 9, 512, 128), kH100), AttnPath::simt);     // 9 rows
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 80), kH100), AttnPath::simt);      // no D=80 instance
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 128, DType::f32), kH100), AttnPath::simt);
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 256), kH100), AttnPath::decode);
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 256), kA100), AttnPath::simt);  // 200 KiB > 163 KiB
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 128), kA100), AttnPath::decode);
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 128), kRtx4090), AttnPath::simt);  // 100 KiB > 99 KiB
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 64), kRtx4090), AttnPath::decode);
  EXPECT_EQ(path(shape(2, 8, 8, 1, 512, 128), kHip), AttnPath::simt);
  AttnShape strided = shape(2, 8, 8, 1, 512, 128);
  strided.k_strides[2] = 132;  // rows not 16-byte multiples
  EXPECT_EQ(path(strided, kH100), AttnPath::simt);
  AttnShape misaligned = shape(2, 8, 8, 1, 512, 128);
  misaligned.q_addr += 2;
  EXPECT_EQ(path(misaligned, kH100), AttnPath::simt);
  // Shared memory the planner budgets is what the kernel asks for (4 warps x 3 x 16 keys).
  EXPECT_EQ(attn_decode_smem_bytes(128), 4 * 3 * 2 * 16 * 128 * 2 + 8 * 128 * 4);
}

TEST(CudaAttentionPlan, PrefillOnHopperTakesTheWgmmaKernel) {
  for (int64_t D : {64, 128, 256}) {
    const AttnPlan p = plan_attention(shape(1, 32, 8, 4096, 4096, D), kH100, AttnForce::none);  // GQA
    EXPECT_EQ(p.path, AttnPath::sm90) << D;
    EXPECT_EQ(p.rows_per_block, 128) << D;
    EXPECT_EQ(p.key_tile, D > 128 ? 64 : 128) << D;
    EXPECT_EQ(p.splits, 1) << D;
    EXPECT_LE(attn_sm90_tiles(D).smem_bytes, 227 * 1024) << D;
  }
  EXPECT_EQ(attn_sm90_tiles(128).stages, 3);
  EXPECT_EQ(attn_sm90_tiles(256).stages, 2);
  EXPECT_EQ(attn_sm90_tiles(128).smem_bytes, 128 * 128 * 2 + 6 * 128 * 128 * 2 + 64 + 1024);
  EXPECT_EQ(attn_sm90_tiles(256).smem_bytes, 128 * 256 * 2 + 4 * 64 * 256 * 2 + 64 + 1024);
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 96), kH100), AttnPath::sm80);   // not specialised
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 128), kA100), AttnPath::sm80);  // not sm_90
  AttnDeviceFacts no_kernel = kH100;
  no_kernel.sm90_kernel = false;
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 128), no_kernel), AttnPath::sm80);
  AttnDeviceFacts blackwell = kH100;
  blackwell.cc_major = 10;  // sm_90a code does not run there: FA2
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 128), blackwell), AttnPath::sm80);
  AttnDeviceFacts sm_9x = kH100;
  sm_9x.cc_minor = 1;  // a later 9.x part would not run sm_90a code either
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 128), sm_9x), AttnPath::sm80);
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 128, DType::f16), kH100), AttnPath::sm90);
  EXPECT_EQ(path(shape(1, 8, 8, 512, 512, 128, DType::f32), kH100), AttnPath::simt);
  AttnShape strided = shape(1, 8, 8, 512, 512, 128);
  strided.v_strides[3] = 2;
  EXPECT_EQ(path(strided, kH100), AttnPath::simt);
  EXPECT_EQ(path(shape(1, 8, 8, 15, 512, 128), kH100), AttnPath::simt);  // 15 rows: neither
  EXPECT_EQ(path(shape(1, 8, 8, 4096, 4096, 128), kHip), AttnPath::simt);
}

TEST(CudaAttentionPlan, ForcedPathsOnHopper) {
  const AttnShape prefill = shape(1, 32, 32, 4096, 4096, 128);
  EXPECT_EQ(path(prefill, kH100, AttnForce::simt), AttnPath::simt);
  EXPECT_EQ(path(prefill, kH100, AttnForce::sm80), AttnPath::sm80);
  EXPECT_EQ(path(prefill, kH100, AttnForce::sm90), AttnPath::sm90);
  const AttnPlan a100 = plan_attention(prefill, kA100, AttnForce::sm90);
  EXPECT_EQ(a100.path, AttnPath::sm80);
  EXPECT_NE(a100.note.find("no wgmma"), std::string::npos);
  // Forcing a path turns the decode kernel off: decode shapes run the forced kernel.
  const AttnShape decode = shape(16, 32, 8, 1, 8192, 128);
  EXPECT_EQ(path(decode, kH100, AttnForce::sm90), AttnPath::sm90);
  EXPECT_EQ(path(decode, kH100, AttnForce::sm80), AttnPath::sm80);
  EXPECT_EQ(path(decode, kH100, AttnForce::simt), AttnPath::simt);
  EXPECT_EQ(path(decode, kHip, AttnForce::sm90), AttnPath::simt);
  EXPECT_EQ(path(decode, kHip, AttnForce::sm80), AttnPath::simt);
  EXPECT_STREQ(attn_path_name(AttnPath::decode), "decode");
}

// The byte address wgmma reads for element (i, k) of a K-major SW128 operand, from the
// descriptor fields: canonical ((8,m),(T,2k)):((8T,SBO),(1,T)) with T = 8 16-bit elements,
// then Swizzle<3,4,3> on the byte address (bits [4:6] ^= bits [7:9]).
uint32_t kmajor_read(uint64_t desc, int i, int k) {
  const uint32_t start = uint32_t(desc & 0x3FFF) << 4, sbo = uint32_t((desc >> 32) & 0x3FFF) << 4;
  const uint32_t a =
      start + uint32_t(i / 8) * sbo + uint32_t(i % 8) * 128 + uint32_t(k / 8) * 16 + uint32_t(k % 8) * 2;
  return a ^ (((a >> 7) & 7) << 4);
}

// ... of an MN-major SW128 operand, element (k, n): ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO)).
uint32_t mnmajor_read(uint64_t desc, int k, int n) {
  const uint32_t start = uint32_t(desc & 0x3FFF) << 4, lbo = uint32_t((desc >> 16) & 0x3FFF) << 4,
                 sbo = uint32_t((desc >> 32) & 0x3FFF) << 4;
  const uint32_t a = start + uint32_t(n / 64) * lbo + uint32_t((n % 64) / 8) * 16 + uint32_t(n % 8) * 2 +
                     uint32_t(k % 8) * 128 + uint32_t(k / 8) * sbo;
  return a ^ (((a >> 7) & 7) << 4);
}

TEST(CudaAttentionSm90Layout, TilesAreABijectionOntoTheirBytes) {
  for (int rows : {64, 128})
    for (int D : {64, 128, 256}) {
      std::set<uint32_t> seen;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < D; ++c) {
          const uint32_t off = attn90::sw128_offset(rows, r, c);
          EXPECT_LT(off, uint32_t(rows * D * 2));
          EXPECT_EQ(off % 2, 0u);
          if (c % 8 == 0) {
            EXPECT_EQ(off % 16, 0u);  // a 16-byte cp.async chunk stays whole
          }
          seen.insert(off);
        }
      EXPECT_EQ(seen.size(), size_t(rows * D)) << rows << " " << D;
    }
}

TEST(CudaAttentionSm90Layout, DescriptorFields) {
  const uint64_t k = sm90::desc_kmajor_sw128(0x12400);
  EXPECT_EQ(k & 0x3FFF, 0x12400u >> 4);
  EXPECT_EQ((k >> 16) & 0x3FFF, 1u);   // LBO unused for swizzled K-major: 1
  EXPECT_EQ((k >> 32) & 0x3FFF, 64u);  // SBO 1024 bytes
  EXPECT_EQ((k >> 49) & 0x7, 0u);      // base offset 0
  EXPECT_EQ(k >> 62, 1u);              // 128-byte swizzle
  const uint64_t v = sm90::desc_mnmajor_sw128(0x8000, 128 * 128);
  EXPECT_EQ((v >> 16) & 0x3FFF, 128u * 128 / 16);
  EXPECT_EQ((v >> 32) & 0x3FFF, 64u);
  EXPECT_EQ(v >> 62, 1u);
}

// Every (row, k) the S = Q·Kᵀ wgmmas read through the kernel's descriptors is the element the
// producer wrote there (Q: 128-row tile, warpgroup rows from 64*cw; K: kBKV-row tile).
TEST(CudaAttentionSm90Layout, KMajorStepsReadWhatTheProducerWrote) {
  const uint32_t base = 0x400 * 5;  // any 1024-byte aligned tile
  for (int D : {64, 128, 256})
    for (int rows : {64, 128})
      for (int row0 : {0, 64}) {
        if (row0 + 64 > rows) continue;
        const uint32_t sub = base + uint32_t(row0) * 128;
        for (int kk = 0; kk < D / 16; ++kk) {
          const uint64_t desc = sm90::desc_kmajor_sw128(attn90::kmajor_step(sub, rows, kk));
          for (int i = 0; i < 64; ++i)
            for (int k = 0; k < 16; ++k)
              ASSERT_EQ(kmajor_read(desc, i, k), base + attn90::sw128_offset(rows, row0 + i, kk * 16 + k))
                  << D << " " << rows << " " << kk << " " << i << " " << k;
        }
      }
}

// Every (key, d) the O += P·V wgmmas read (B N-major, N = D) is V[key][d] as written.
TEST(CudaAttentionSm90Layout, MnMajorStepsReadWhatTheProducerWrote) {
  const uint32_t base = 0x400 * 9;
  for (int D : {64, 128, 256})
    for (int keys : {64, 128}) {
      for (int j = 0; j < keys / 16; ++j) {
        const uint64_t desc = sm90::desc_mnmajor_sw128(attn90::mnmajor_step(base, j), uint32_t(keys) * 128);
        for (int k = 0; k < 16; ++k)
          for (int n = 0; n < D; ++n)
            ASSERT_EQ(mnmajor_read(desc, k, n), base + attn90::sw128_offset(keys, j * 16 + k, n))
                << D << " " << keys << " " << j << " " << k << " " << n;
      }
    }
}

}  // namespace
}  // namespace porta::cuda
