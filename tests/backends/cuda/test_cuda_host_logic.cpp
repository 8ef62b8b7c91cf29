// Host-side logic of the CUDA backend, checked without a GPU: peak estimates, the GEMM
// path/tile/split-K planner, the attention block/split planner, and CUDA status mapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/cuda_error.h"
#include "backends/cuda/device_peaks.h"
#include "backends/cuda/gemm_plan.h"
#include "backends/cuda/tma_map.h"
#include "kernels/cuda/gemm_schedule.h"
#include "kernels/cuda/porta_cuda_runtime.h"

namespace porta::cuda {
namespace {

TEST(CudaPeaks, A100FromSmsClocksAndBus) {
  PeakInputs in{"NVIDIA A100-SXM4-40GB", 8, 0, 108, 1410000, 1215000, 5120, true};
  const Peaks p = compute_peaks(in);
  EXPECT_NEAR(p.tflops_f16, 311.9, 0.5);  // 108 x 1.41 GHz x 2048
  EXPECT_NEAR(p.tflops_f32, 19.5, 0.1);   // 108 x 1.41 GHz x 128
  EXPECT_NEAR(p.gbps, 1555.2, 0.5);       // 1215 MHz x 2 x 640 bytes
  EXPECT_NE(p.source.find("sm_80"), std::string::npos);
}

TEST(CudaPeaks, A800SameRateAsA100AndH100FromHopperRates) {
  const Peaks a800 = compute_peaks({"NVIDIA A800 80GB PCIe", 8, 0, 108, 1410000, 1512000, 5120, true});
  EXPECT_NEAR(a800.tflops_f16, 311.9, 0.5);
  EXPECT_NEAR(a800.gbps, 1935.4, 0.5);
  const Peaks h100 = compute_peaks({"NVIDIA H100 80GB HBM3", 9, 0, 132, 1980000, 2619000, 5120, true});
  EXPECT_NEAR(h100.tflops_f16, 132 * 1.98e9 * 4096 / 1e12, 0.5);
  EXPECT_NEAR(h100.tflops_f32, 132 * 1.98e9 * 256 / 1e12, 0.1);
  EXPECT_NEAR(h100.gbps, 3352.3, 0.5);
}

TEST(CudaPeaks, H20UsesPublishedFiguresButH200DoesNot) {
  const Peaks h20 = compute_peaks({"NVIDIA H20", 9, 0, 78, 1980000, 2619000, 6144, true});
  EXPECT_DOUBLE_EQ(h20.tflops_f16, 148.0);
  EXPECT_DOUBLE_EQ(h20.gbps, 4000.0);
  EXPECT_NE(h20.source.find("published"), std::string::npos);
  const Peaks h200 = compute_peaks({"NVIDIA H200", 9, 0, 132, 1980000, 3201000, 6144, true});
  EXPECT_GT(h200.tflops_f16, 900.0);
}

TEST(CudaPeaks, WithoutTensorCoresF16PeakIsTheFmaPeak) {
  const Peaks p = compute_peaks({"dialect GPU", 8, 0, 64, 1500000, 1000000, 4096, false});
  EXPECT_DOUBLE_EQ(p.tflops_f16, p.tflops_f32);
  const Peaks unknown = compute_peaks({"future", 42, 0, 10, 1000000, 1000000, 256, true});
  EXPECT_EQ(unknown.tflops_f16, 0.0);
  EXPECT_NE(unknown.source.find("unknown architecture"), std::string::npos);
}

GemmShape row_major(int64_t M, int64_t N, int64_t K, DType t) {  // A [M, K], B [K, N]
  GemmShape s;
  s.M = M, s.N = N, s.K = K, s.a = t, s.b = t;
  s.a_strides[0] = M * K, s.a_strides[1] = K, s.a_strides[2] = 1;
  s.b_strides[0] = K * N, s.b_strides[1] = N, s.b_strides[2] = 1;
  s.a_addr = 0x10000, s.b_addr = 0x20000;
  return s;
}

GemmShape weights_nk(int64_t M, int64_t N, int64_t K, DType t) {  // B^T of [N, K] weights
  GemmShape s = row_major(M, N, K, t);
  s.b_strides[1] = 1, s.b_strides[2] = K;
  return s;
}

const GemmDeviceFacts kH100{9, 0, 132, true, false};
const GemmDeviceFacts kHip{9, 0, 110, false, false};

TEST(CudaGemmPlan, DecodeShapesTakeGemv) {
  for (int64_t m : {1, 8, 16}) {
    const GemmPlan p = plan_gemm(weights_nk(m, 8192, 8192, DType::bf16), kH100, GemmForce::none);
    EXPECT_EQ(p.path, GemmPath::gemv) << m;
    EXPECT_EQ(p.splits, 1);
  }
  EXPECT_EQ(plan_gemm(weights_nk(17, 8192, 8192, DType::bf16), kH100, GemmForce::none).path, GemmPath::sm80);
}

TEST(CudaGemmPlan, TensorCoresForAlignedHalfOperandsInBothBLayouts) {
  const GemmPlan kn = plan_gemm(row_major(4096, 4096, 4096, DType::bf16), kH100, GemmForce::none);
  EXPECT_EQ(kn.path, GemmPath::sm80);
  EXPECT_FALSE(kn.b_kmajor);
  EXPECT_EQ(kn.splits, 1);
  EXPECT_EQ(kn.tile.block_m, 128);
  EXPECT_EQ(kn.tile.stages, 3);
  const GemmPlan nk = plan_gemm(weights_nk(4096, 28672, 8192, DType::f16), kH100, GemmForce::none);
  EXPECT_EQ(nk.path, GemmPath::sm80);
  EXPECT_TRUE(nk.b_kmajor);
}

TEST(CudaGemmPlan, IneligibleShapesFallBackToSimt) {
  EXPECT_EQ(plan_gemm(row_major(256, 256, 256, DType::f32), kH100, GemmForce::none).path, GemmPath::simt);
  GemmShape mixed = row_major(256, 256, 256, DType::bf16);
  mixed.b = DType::f16;
  EXPECT_EQ(plan_gemm(mixed, kH100, GemmForce::none).path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(row_major(256, 256, 100, DType::bf16), kH100, GemmForce::none).path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(row_major(256, 100, 256, DType::bf16), kH100, GemmForce::none).path, GemmPath::simt);
  GemmShape misaligned = row_major(256, 256, 256, DType::bf16);
  misaligned.a_addr += 2;
  EXPECT_EQ(plan_gemm(misaligned, kH100, GemmForce::none).path, GemmPath::simt);
  GemmShape a_transposed = row_major(256, 256, 256, DType::bf16);
  a_transposed.a_strides[1] = 1, a_transposed.a_strides[2] = 256;
  EXPECT_EQ(plan_gemm(a_transposed, kH100, GemmForce::none).path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(row_major(256, 256, 256, DType::bf16), kHip, GemmForce::none).path, GemmPath::simt);
  const GemmDeviceFacts turing{7, 5, 40, true, false};
  EXPECT_EQ(plan_gemm(row_major(256, 256, 256, DType::bf16), turing, GemmForce::none).path, GemmPath::simt);
}

TEST(CudaGemmPlan, ForcedPathsApplyWhereTheyCan) {
  const GemmShape big = row_major(4096, 4096, 4096, DType::bf16);
  EXPECT_EQ(plan_gemm(big, kH100, GemmForce::simt).path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(weights_nk(4, 4096, 4096, DType::bf16), kH100, GemmForce::sm80).path, GemmPath::sm80);
  const GemmPlan sm90 = plan_gemm(big, kH100, GemmForce::sm90);
  EXPECT_EQ(sm90.path, GemmPath::sm80);  // no sm_90a kernel in this build: said in the note
  EXPECT_NE(sm90.note.find("no sm_90a kernel"), std::string::npos);
  const GemmPlan f32 = plan_gemm(row_major(64, 64, 64, DType::f32), kH100, GemmForce::sm80);
  EXPECT_EQ(f32.path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(big, kH100, GemmForce::gemv).path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(weights_nk(2, 64, 64, DType::f32), kH100, GemmForce::gemv).path, GemmPath::gemv);
}

const GemmDeviceFacts kH100Sm90{9, 0, 132, true, true};

TEST(CudaGemmPlan, Sm90IsTheAutoPathOnHopperForBothBLayouts) {
  const GemmPlan nk = plan_gemm(weights_nk(4096, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(nk.path, GemmPath::sm90);
  EXPECT_TRUE(nk.b_kmajor);
  EXPECT_EQ(nk.tile.block_m, 128);
  EXPECT_EQ(nk.tile.block_n, 256);
  EXPECT_EQ(nk.tile.block_k, 64);
  EXPECT_EQ(nk.tile.stages, 4);
  EXPECT_EQ(nk.splits, 1);
  EXPECT_EQ(nk.ctas, 132);  // persistent: one CTA per SM
  const GemmPlan kn = plan_gemm(row_major(4096, 4096, 4096, DType::f16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(kn.path, GemmPath::sm90);
  EXPECT_FALSE(kn.b_kmajor);
  EXPECT_EQ(plan_gemm(weights_nk(4096, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::sm90).path,
            GemmPath::sm90);
  // A batch of GEMMs sharing one weight matrix (B's batch stride 0).
  GemmShape shared_b = weights_nk(512, 1024, 1024, DType::bf16);
  shared_b.batch = 4, shared_b.b_strides[0] = 0;
  EXPECT_EQ(plan_gemm(shared_b, kH100Sm90, GemmForce::none).path, GemmPath::sm90);
}

TEST(CudaGemmPlan, Sm90TilesForTheTargetShapes) {
  // bf16 8192^3 and Llama-3-70B prefill projections (M = 4096): 128x256 tiles.
  const int64_t nk[][2] = {{8192, 8192},  {10240, 8192}, {57344, 8192},
                           {8192, 28672}, {28672, 8192}, {1024, 8192}};
  for (const auto& v : nk) {
    const GemmPlan p = plan_gemm(weights_nk(4096, v[0], v[1], DType::bf16), kH100Sm90, GemmForce::none);
    EXPECT_EQ(p.path, GemmPath::sm90) << v[0];
    EXPECT_EQ(p.tile.block_n, 256) << v[0];
    EXPECT_EQ(p.splits, 1) << v[0];
  }
  const GemmPlan cube = plan_gemm(weights_nk(8192, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(cube.tile.block_n, 256);
  // Few tiles: 128x128 fills more SMs, and split-K adds CTAs along a long K.
  const GemmPlan small = plan_gemm(weights_nk(128, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(small.path, GemmPath::sm90);
  EXPECT_EQ(small.tile.block_n, 128);
  EXPECT_EQ(small.tile.stages, 6);
  EXPECT_EQ(small.splits, 2);  // 64 tiles -> 128 units, one wave
  EXPECT_EQ(small.ctas, 128);
  const GemmPlan skinny = plan_gemm(weights_nk(128, 128, 65536, DType::bf16), kH100Sm90, GemmForce::sm90);
  EXPECT_EQ(skinny.path, GemmPath::sm90);
  EXPECT_EQ(skinny.splits, 16);
  EXPECT_EQ(skinny.ctas, 16);
}

TEST(CudaGemmPlan, Sm90EdgeCases) {
  for (int64_t m = 1; m <= 16; ++m)  // decode stays on the GEMV
    EXPECT_EQ(plan_gemm(weights_nk(m, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none).path,
              GemmPath::gemv);
  EXPECT_EQ(plan_gemm(weights_nk(17, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none).path,
            GemmPath::sm90);
  GemmShape misaligned = weights_nk(256, 256, 256, DType::bf16);
  misaligned.b_addr += 8;  // not 16-byte aligned: no TMA, no tensor-core path at all
  EXPECT_EQ(plan_gemm(misaligned, kH100Sm90, GemmForce::none).path, GemmPath::simt);
  EXPECT_EQ(plan_gemm(weights_nk(256, 256, 256, DType::f32), kH100Sm90, GemmForce::none).path,
            GemmPath::simt);
  EXPECT_EQ(plan_gemm(weights_nk(256, 256, 260, DType::bf16), kH100Sm90, GemmForce::none).path,
            GemmPath::simt);
  // The hip module (no NVIDIA paths; gfx90a reports major 9) never takes sm80/sm90, even forced.
  const GemmDeviceFacts hip{9, 0, 110, false, false};
  for (GemmForce f : {GemmForce::none, GemmForce::sm80, GemmForce::sm90}) {
    const GemmPath p = plan_gemm(weights_nk(4096, 4096, 4096, DType::bf16), hip, f).path;
    EXPECT_TRUE(p == GemmPath::simt) << gemm_path_name(p);
  }
  // sm_90a SASS runs only on 9.0: other majors take sm80.
  const GemmDeviceFacts blackwell{10, 0, 148, true, true};
  const GemmPlan b = plan_gemm(weights_nk(4096, 4096, 4096, DType::bf16), blackwell, GemmForce::sm90);
  EXPECT_EQ(b.path, GemmPath::sm80);
  EXPECT_NE(b.note.find("not sm_90"), std::string::npos);
  const GemmDeviceFacts a800{8, 0, 108, true, true};
  EXPECT_EQ(plan_gemm(weights_nk(4096, 4096, 4096, DType::bf16), a800, GemmForce::none).path, GemmPath::sm80);
  // A batch stride TMA cannot take (>= 2^40 bytes) leaves the call to sm80.
  GemmShape huge = weights_nk(4096, 4096, 4096, DType::bf16);
  huge.batch = 2, huge.a_strides[0] = int64_t(1) << 40;
  const GemmPlan h = plan_gemm(huge, kH100Sm90, GemmForce::sm90);
  EXPECT_EQ(h.path, GemmPath::sm80);
  EXPECT_NE(h.note.find("TMA"), std::string::npos);
}

TEST(CudaGemmPlan, GemvSplitsKOnlyWhenColumnsAreFew) {
  const GemmPlan wide = plan_gemm(weights_nk(16, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(wide.path, GemmPath::gemv);
  EXPECT_EQ(wide.splits, 1);  // 256 blocks of 32 columns
  const GemmPlan narrow = plan_gemm(weights_nk(1, 1024, 8192, DType::bf16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(narrow.path, GemmPath::gemv);
  EXPECT_EQ(narrow.splits, 8);  // 32 blocks; K allows 8 ranges of 1024
  EXPECT_EQ(plan_gemm(weights_nk(4, 64, 512, DType::bf16), kH100Sm90, GemmForce::none).splits, 1);  // short K
  // [K, N] weights: 256 columns per block -> 32 blocks for N = 8192, so K is split 8 ways.
  const GemmPlan kn = plan_gemm(row_major(1, 8192, 8192, DType::bf16), kH100Sm90, GemmForce::none);
  EXPECT_EQ(kn.path, GemmPath::gemv);
  EXPECT_EQ(kn.splits, 8);
}

TEST(CudaGemmPlan, TileTableIsConsistent) {
  int n = 0;
  const GemmTileEntry* t = gemm_tile_table(&n);
  ASSERT_GT(n, 0);
  for (GemmPath p : {GemmPath::simt, GemmPath::gemv, GemmPath::sm80, GemmPath::sm90}) {
    bool found = false;
    for (int i = 0; i < n; ++i) found = found || t[i].path == p;
    EXPECT_TRUE(found) << gemm_path_name(p);
  }
  for (int i = 0; i < n; ++i) {
    if (t[i].path != GemmPath::sm90) continue;
    const GemmTile& g = t[i].tile;
    EXPECT_EQ(g.block_m, 128);      // two consumer warpgroups of 64 rows
    EXPECT_EQ(g.block_k * 2, 128);  // one 128-byte swizzle row of 16-bit elements
    EXPECT_EQ(g.block_n % 64, 0);   // N-major B loads 64-column boxes
    EXPECT_LE(g.block_n, 256);      // TMA box and wgmma N limit
    const int slot = (g.block_m + g.block_n) * g.block_k * 2;
    EXPECT_LE(g.stages * slot + 1024 + 2 * 8 * g.stages, 227 * 1024);  // opt-in shared memory
  }
  EXPECT_EQ(choose_tile(GemmPath::sm80, weights_nk(100, 100, 64, DType::bf16), 132).block_n, 128);
}

TEST(CudaGemmSchedule, UnitsCoverEveryTileAndKSliceOnce) {
  struct Case {
    int64_t M, N, K, batch;
    int splits, bm, bn;
  };
  const Case cases[] = {{4096, 8192, 8192, 1, 1, 128, 256}, {1000, 700, 300, 2, 3, 128, 128},
                        {128, 128, 65536, 1, 16, 128, 128}, {17, 4096, 64, 3, 1, 128, 256},
                        {2000, 300, 1000, 1, 5, 128, 256},  {128, 8192, 8192, 1, 2, 128, 128}};
  for (const Case& c : cases) {
    const int64_t tm = (c.M + c.bm - 1) / c.bm, tn = (c.N + c.bn - 1) / c.bn;
    const int64_t units = tm * tn * c.batch * c.splits;
    // For each (batch, tile): which K elements were covered, counted once per split.
    std::vector<int> seen(static_cast<size_t>(units), 0);
    std::vector<int64_t> k_covered(static_cast<size_t>(tm * tn * c.batch), 0);
    for (int64_t u = 0; u < units; ++u) {
      const GemmUnit w = gemm_unit_at(u, c.M, c.N, c.K, c.splits, c.bm, c.bn, 64, 8);
      ASSERT_EQ(w.m0 % c.bm, 0);
      ASSERT_EQ(w.n0 % c.bn, 0);
      ASSERT_LT(w.m0, c.M);
      ASSERT_LT(w.n0, c.N);
      ASSERT_LT(w.b, c.batch);
      ASSERT_EQ(w.k0 % 64, 0);  // slices never straddle splits
      const int64_t tile = (w.b * tm + w.m0 / c.bm) * tn + w.n0 / c.bn;
      ++seen[static_cast<size_t>(tile * c.splits + w.split)];
      const int64_t end = std::min<int64_t>(c.K, w.k0 + int64_t(w.ktiles) * 64);
      if (w.ktiles > 0) {
        EXPECT_LT(w.k0, c.K);
        k_covered[static_cast<size_t>(tile)] += end - w.k0;
      }
    }
    for (int v : seen) EXPECT_EQ(v, 1) << c.M << "x" << c.N;
    for (int64_t k : k_covered) EXPECT_EQ(k, c.K) << c.M << "x" << c.N;
  }
  // Grouped raster: the first 16 units of a 64 x 32 tile grid are 8 tile rows x 2 columns.
  for (int64_t u = 0; u < 16; ++u) {
    const GemmUnit w = gemm_unit_at(u, 8192, 8192, 8192, 1, 128, 256, 64, 8);
    EXPECT_EQ(w.m0 / 128, u % 8);
    EXPECT_EQ(w.n0 / 256, u / 8);
  }
}

TEST(CudaTmaMap, GemmOperandMaps) {
  TmaMapSpec a, b;
  const GemmTile big{128, 256, 64, 2, 1, 4};
  ASSERT_TRUE(gemm_tma_specs(weights_nk(4096, 8192, 1024, DType::bf16), big, true, &a, &b));
  EXPECT_TRUE(a.bf16);
  EXPECT_EQ(a.dims[0], 1024u);  // K innermost
  EXPECT_EQ(a.dims[1], 4096u);
  EXPECT_EQ(a.dims[2], 1u);
  EXPECT_EQ(a.strides[0], 2048u);  // K * 2 bytes per row of A
  EXPECT_EQ(a.box[0], 64u);
  EXPECT_EQ(a.box[1], 128u);
  EXPECT_EQ(b.dims[0], 1024u);  // [N, K]: K innermost, N rows
  EXPECT_EQ(b.dims[1], 8192u);
  EXPECT_EQ(b.strides[0], 2048u);
  EXPECT_EQ(b.box[1], 256u);
  // [K, N] weights: N innermost, 64-column boxes over 64 K rows.
  ASSERT_TRUE(gemm_tma_specs(row_major(4096, 8192, 1024, DType::f16), big, false, &a, &b));
  EXPECT_FALSE(b.bf16);
  EXPECT_EQ(b.dims[0], 8192u);
  EXPECT_EQ(b.dims[1], 1024u);
  EXPECT_EQ(b.strides[0], 16384u);
  EXPECT_EQ(b.box[0], 64u);
  EXPECT_EQ(b.box[1], 64u);
  // Batched A, broadcast B: B's batch extent is 1.
  GemmShape s = weights_nk(256, 512, 128, DType::bf16);
  s.batch = 3, s.a_strides[0] = 256 * 128, s.b_strides[0] = 0;
  ASSERT_TRUE(gemm_tma_specs(s, big, true, &a, &b));
  EXPECT_EQ(a.dims[2], 3u);
  EXPECT_EQ(a.strides[1], 256u * 128 * 2);
  EXPECT_EQ(b.dims[2], 1u);
  EXPECT_EQ(b.strides[1] % 16, 0u);
  // One row with an odd row stride: TMA never steps it, so a legal stride stands in.
  GemmShape one = weights_nk(1, 512, 120, DType::bf16);
  one.a_strides[1] = 7;
  ASSERT_TRUE(gemm_tma_specs(one, big, true, &a, &b));
  EXPECT_EQ(a.strides[0], 240u);
  // Broadcast views (a zero stride on a dim of extent > 1) have no TMA encoding: sm80 runs them.
  GemmShape bcast_a = weights_nk(256, 512, 128, DType::bf16);
  bcast_a.a_strides[1] = 0;
  EXPECT_FALSE(gemm_tma_specs(bcast_a, big, true, &a, &b));
  GemmShape bcast_b = weights_nk(256, 512, 128, DType::bf16);
  bcast_b.b_strides[2] = 0;  // every column of [N, K] B the same row
  EXPECT_FALSE(gemm_tma_specs(bcast_b, big, true, &a, &b));
  GemmShape bcast_bkn = row_major(256, 512, 128, DType::bf16);
  bcast_bkn.b_strides[1] = 0;  // every K row of [K, N] B the same
  EXPECT_FALSE(gemm_tma_specs(bcast_bkn, big, false, &a, &b));
  // Coordinates beyond int32 (the kernel's TMA coordinates) are refused.
  GemmShape tall = weights_nk(int64_t{1} << 31, 512, 128, DType::bf16);
  EXPECT_FALSE(gemm_tma_specs(tall, big, true, &a, &b));
  ASSERT_TRUE(gemm_tma_specs(one, big, true, &a, &b));
  // Rules TMA imposes.
  TmaMapSpec ok = a;
  EXPECT_TRUE(tma_spec_valid(ok));
  TmaMapSpec bad = ok;
  bad.addr += 8;
  EXPECT_FALSE(tma_spec_valid(bad));
  bad = ok, bad.strides[0] = 2056;
  EXPECT_FALSE(tma_spec_valid(bad));
  bad = ok, bad.box[1] = 257;
  EXPECT_FALSE(tma_spec_valid(bad));
  bad = ok, bad.box[0] = 32;  // 64-byte inner box does not match the 128-byte swizzle
  EXPECT_FALSE(tma_spec_valid(bad));
  bad = ok, bad.strides[1] = uint64_t(1) << 40;
  EXPECT_FALSE(tma_spec_valid(bad));
  EXPECT_FALSE(gemm_tma_specs(weights_nk(64, 64, 64, DType::f32), big, true, &a, &b));
}

TEST(CudaTmaMap, EncodeFailsCleanlyWithoutADriver) {
  // No GPU driver on the build host: the entry point is missing and encoding says why
  // instead of crashing; on a GPU host it succeeds.
  TmaMapSpec a, b;
  ASSERT_TRUE(
      gemm_tma_specs(weights_nk(256, 256, 256, DType::bf16), GemmTile{128, 128, 64, 2, 1, 6}, true, &a, &b));
  TmaMap m;
  std::string why;
  const bool ok = encode_tma_map(a, &m, &why);
  if (!ok) {
    EXPECT_FALSE(why.empty());
  }
  TmaMapSpec bad = a;
  bad.addr += 2;
  EXPECT_FALSE(encode_tma_map(bad, &m, &why));
}

TEST(CudaGemmPlan, SplitKOnlyForSkinnyOutputsWithLongK) {
  EXPECT_EQ(choose_splits(1, 65536, 32, 132), 16);
  EXPECT_EQ(choose_splits(32, 8192, 32, 132), 4);  // 128 units: one wave
  EXPECT_EQ(choose_splits(32, 512, 32, 132), 2);
  EXPECT_EQ(choose_splits(32, 128, 32, 132), 1);  // too little K per split
  EXPECT_EQ(choose_splits(132, 65536, 32, 132), 1);
  EXPECT_EQ(choose_splits(128, 65536, 64, 132), 1);  // two half-waves are no faster than one
  EXPECT_EQ(choose_splits(64, 65536, 64, 132), 2);
  EXPECT_EQ(choose_splits(40, 512 * 3, 64, 132), 3);  // K allows 3: 120 units, one wave
  EXPECT_EQ(choose_splits(40, 65536, 64, 132), 13);   // 520 units in 4 full waves beats 3
  const GemmPlan p = plan_gemm(row_major(128, 128, 65536, DType::bf16), kH100, GemmForce::none);
  EXPECT_EQ(p.path, GemmPath::sm80);
  EXPECT_EQ(p.splits, 16);
}

TEST(CudaGemmPlan, ParsesTheForceSetting) {
  GemmForce f{};
  EXPECT_TRUE(parse_gemm_force("auto", &f));
  EXPECT_EQ(f, GemmForce::none);
  EXPECT_TRUE(parse_gemm_force("sm90", &f));
  EXPECT_EQ(f, GemmForce::sm90);
  EXPECT_TRUE(parse_gemm_force("simt", &f));
  EXPECT_EQ(f, GemmForce::simt);
  EXPECT_FALSE(parse_gemm_force("sm70", &f));
  EXPECT_FALSE(parse_gemm_force("SIMT", &f));
  AttnForce a{};
  EXPECT_TRUE(parse_attn_force("sm80", &a));
  EXPECT_EQ(a, AttnForce::sm80);
  EXPECT_FALSE(parse_attn_force("fa3", &a));
}

AttnShape attn(int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Skv, int64_t D,
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

const AttnDeviceFacts kH100Attn{9, 132, true};

TEST(CudaAttentionPlan, DecodeSplitsTheKvRangeToFillTheGpu) {
  const AttnPlan p = plan_attention(attn(16, 32, 8, 1, 8192, 128), kH100Attn, AttnForce::none);
  EXPECT_EQ(p.path, AttnPath::simt);
  EXPECT_EQ(p.rows_per_block, 16);
  EXPECT_EQ(p.key_tile, 32);
  EXPECT_EQ(p.splits, 5);  // 128 blocks -> 5 splits for ~4 per SM
  EXPECT_EQ(p.split_keys % p.key_tile, 0);
  EXPECT_GE(p.split_keys * p.splits, 8192);
  EXPECT_LT(p.split_keys * (p.splits - 1), 8192);
  const AttnPlan one = plan_attention(attn(1, 32, 32, 1, 8192, 128), kH100Attn, AttnForce::none);
  EXPECT_GT(one.splits, 4);
  EXPECT_LE(one.splits, 64);
}

TEST(CudaAttentionPlan, PrefillTakesFa2WhenEligible) {
  const AttnPlan p = plan_attention(attn(1, 32, 32, 4096, 4096, 128), kH100Attn, AttnForce::none);
  EXPECT_EQ(p.path, AttnPath::sm80);
  EXPECT_EQ(p.splits, 1);
  EXPECT_EQ(p.key_tile, 64);
  EXPECT_EQ(plan_attention(attn(1, 8, 8, 512, 512, 256), kH100Attn, AttnForce::none).key_tile, 32);
  // Not eligible: f32, D = 80 is fine (multiple of 16), a strided D, misaligned, no NVIDIA paths.
  EXPECT_EQ(plan_attention(attn(1, 8, 8, 512, 512, 128, DType::f32), kH100Attn, AttnForce::none).path,
            AttnPath::simt);
  EXPECT_EQ(plan_attention(attn(1, 8, 8, 512, 512, 80), kH100Attn, AttnForce::none).path, AttnPath::sm80);
  AttnShape strided = attn(1, 8, 8, 512, 512, 128);
  strided.k_strides[3] = 2;
  EXPECT_EQ(plan_attention(strided, kH100Attn, AttnForce::none).path, AttnPath::simt);
  AttnShape misaligned = attn(1, 8, 8, 512, 512, 128);
  misaligned.v_addr += 8;
  EXPECT_EQ(plan_attention(misaligned, kH100Attn, AttnForce::none).path, AttnPath::simt);
  EXPECT_EQ(
      plan_attention(attn(1, 8, 8, 512, 512, 128), AttnDeviceFacts{9, 110, false}, AttnForce::none).path,
      AttnPath::simt);
  EXPECT_EQ(plan_attention(attn(1, 8, 8, 512, 512, 128), AttnDeviceFacts{7, 80, true}, AttnForce::none).path,
            AttnPath::simt);
}

TEST(CudaAttentionPlan, ForcedPaths) {
  EXPECT_EQ(plan_attention(attn(1, 32, 32, 4096, 4096, 128), kH100Attn, AttnForce::simt).path,
            AttnPath::simt);
  const AttnPlan decode = plan_attention(attn(16, 32, 8, 1, 8192, 128), kH100Attn, AttnForce::sm80);
  EXPECT_EQ(decode.path, AttnPath::sm80);  // forced: even decode runs the FA2 kernel
  const AttnPlan sm90 = plan_attention(attn(1, 8, 8, 512, 512, 64), kH100Attn, AttnForce::sm90);
  EXPECT_EQ(sm90.path, AttnPath::sm80);
  EXPECT_NE(sm90.note.find("no wgmma"), std::string::npos);
  const AttnPlan f32 = plan_attention(attn(1, 8, 8, 512, 512, 64, DType::f32), kH100Attn, AttnForce::sm80);
  EXPECT_EQ(f32.path, AttnPath::simt);
}

TEST(CudaAttentionPlan, PortableTilesFitSharedMemory) {
  for (int64_t D : {64, 80, 96, 128, 256}) {
    const AttnPlan t = plan_attention(attn(1, 8, 8, 128, 128, D), kH100Attn, AttnForce::simt);
    EXPECT_LE(attn_simt_smem_bytes(t, D), 48 * 1024) << D;
    EXPECT_LE(t.rows_per_block, 16);
    EXPECT_LE(t.key_tile, 32);
  }
  EXPECT_EQ(plan_attention(attn(1, 1, 1, 1, 5, 64), kH100Attn, AttnForce::none).splits, 1);
  EXPECT_EQ(plan_attention(attn(1, 1, 1, 1, 0, 64), kH100Attn, AttnForce::none).splits, 1);
}

TEST(CudaErrors, StatusesMapToPortaErrors) {
  EXPECT_EQ(errc_for_status(pcErrorIllegalAddress), Errc::device_lost);
  EXPECT_EQ(errc_for_status(pcErrorLaunchFailure), Errc::device_lost);
  EXPECT_EQ(errc_for_status(pcErrorECCUncorrectable), Errc::device_lost);
  EXPECT_EQ(errc_for_status(pcErrorMisalignedAddress), Errc::device_lost);
  EXPECT_TRUE(is_sticky_status(pcErrorLaunchTimeout));
  EXPECT_FALSE(is_sticky_status(pcErrorMemoryAllocation));
  EXPECT_EQ(errc_for_status(pcErrorMemoryAllocation), Errc::out_of_memory);
  EXPECT_EQ(errc_for_status(pcErrorInsufficientDriver), Errc::backend_unavailable);
  EXPECT_EQ(errc_for_status(pcErrorNoDevice), Errc::backend_unavailable);
  EXPECT_EQ(errc_for_status(pcErrorNoKernelImageForDevice), Errc::unsupported);
  EXPECT_EQ(errc_for_status(cudaErrorInvalidValue), Errc::internal);
}

TEST(CudaErrors, CheckThrowsNamingTheCallStatusAndFix) {
  EXPECT_NO_THROW(check(0, "cudaStreamSynchronize"));
  try {
    check(pcErrorIllegalAddress, "cudaStreamSynchronize");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::device_lost);
    const std::string m = e.what();
    EXPECT_NE(m.find("cudaStreamSynchronize"), std::string::npos) << m;
    EXPECT_NE(m.find("cudaErrorIllegalAddress"), std::string::npos) << m;
    EXPECT_NE(m.find("re-create"), std::string::npos) << m;
  }
  try {
    check(pcErrorMemoryAllocation, "cudaMallocAsync(1 bytes)");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::out_of_memory);
    EXPECT_NE(std::string(e.what()).find("free tensors"), std::string::npos);
  }
}

}  // namespace
}  // namespace porta::cuda

namespace porta::cuda {
namespace {

// PORTA_DETERMINISTIC plans split-K and split-KV for kDeterministicPartitionSms whatever the
// device has, so an H20 (78 SMs) and an H100 (132) split the same reductions the same way.
TEST(CudaDeterminism, SplitsFollowThePartitionSmsNotTheDevice) {
  GemmDeviceFacts h20{9, 0, 78, true, false}, h100{9, 0, 132, true, false};
  bool differs = false;
  for (int64_t m : {640, 1024, 2000})
    for (int64_t k : {4096, 8192}) {
      const GemmShape s = row_major(m, 1024, k, DType::bf16);
      differs |= plan_gemm(s, h20, GemmForce::none).splits != plan_gemm(s, h100, GemmForce::none).splits;
    }
  const AttnShape decode = attn(1, 8, 8, 1, 32768, 128);
  AttnDeviceFacts a20{9, 78, true, true, 227 * 1024, 0}, a100{9, 132, true, true, 227 * 1024, 0};
  differs |= plan_attention(decode, a20, AttnForce::none).splits !=
             plan_attention(decode, a100, AttnForce::none).splits;
  EXPECT_TRUE(differs) << "no shape here splits by the SM count: the check below would prove nothing";

  h20.partition_sms = h100.partition_sms = kDeterministicPartitionSms;
  a20.partition_sms = a100.partition_sms = kDeterministicPartitionSms;
  for (int64_t m : {1, 8, 640, 1024, 2000})
    for (int64_t k : {4096, 8192}) {
      const GemmShape s = row_major(m, 1024, k, DType::bf16);
      const GemmPlan p20 = plan_gemm(s, h20, GemmForce::none), p100 = plan_gemm(s, h100, GemmForce::none);
      EXPECT_EQ(p20.path, p100.path) << m << "x" << k;
      EXPECT_EQ(p20.splits, p100.splits) << m << "x" << k;
      EXPECT_EQ(p20.tile.block_k, p100.tile.block_k) << m << "x" << k;
    }
  for (int64_t skv : {1024, 32768}) {
    const AttnShape s = attn(1, 8, 8, 1, skv, 128);
    const AttnPlan p20 = plan_attention(s, a20, AttnForce::none),
                   p100 = plan_attention(s, a100, AttnForce::none);
    EXPECT_EQ(p20.splits, p100.splits) << skv;
    EXPECT_EQ(p20.split_keys, p100.split_keys) << skv;
  }
}

}  // namespace
}  // namespace porta::cuda
