// Quantized-weight vector-path conditions (quant_plan.h), checked without a GPU: which
// dequantize and GEMV launches take the 16-byte paths of kernels/cuda/quant.cu.
#include <gtest/gtest.h>

#include "backends/cuda/quant_plan.h"

namespace porta::cuda {
namespace {

// A fake device address: only its alignment matters to the planner.
char* at(uintptr_t a) { return reinterpret_cast<char*>(a); }

// int4 g128 weight [n, k] with contiguous codes at a 256-byte aligned address.
QWDesc int4_weight(int64_t n = 64, int64_t k = 4096, int64_t group = 128) {
  QWDesc w;
  w.codes = at(0x10000);
  w.code_rs = (k + 1) / 2;
  w.format = 1;
  w.n = n, w.k = k, w.group = group;
  return w;
}

// The M > 16 gemm path's weight block: [rows, K] row-major in A's dtype, unpermute set.
QuantDequantDesc gemm_block(const QWDesc& w, int32_t dt = kF16) {
  QuantDequantDesc d;
  d.w = w;
  d.out = at(0x20000);
  d.out_dt = dt;
  d.out_rs = w.k;
  d.out_cs = 1;
  d.rows = 128;
  d.unpermute = true;
  return d;
}

TEST(CudaQuantPlan, GemmWeightBlocksWithoutPermutationTakeTheVectorDequantize) {
  // unpermute is set on every gemm block; only a present permutation scatters columns.
  EXPECT_TRUE(quant_dequant_vec(gemm_block(int4_weight())));
  EXPECT_TRUE(quant_dequant_vec(gemm_block(int4_weight(), kF32)));
  QWDesc w = int4_weight();
  w.format = 0, w.code_rs = w.k;  // int8
  EXPECT_TRUE(quant_dequant_vec(gemm_block(w, kBF16)));
  const int32_t perm[1] = {0};
  w.perm = reinterpret_cast<const char*>(perm), w.perm_st = 1;
  EXPECT_FALSE(quant_dequant_vec(gemm_block(w)));  // act-order: columns scattered
  QuantDequantDesc plain = gemm_block(w);
  plain.unpermute = false;  // dequantize keeps code-column order: no scatter even with perm
  EXPECT_TRUE(quant_dequant_vec(plain));
}

TEST(CudaQuantPlan, VectorDequantizeNeedsAlignedContiguousRows) {
  QuantDequantDesc d = gemm_block(int4_weight());
  d.out_cs = 2;
  EXPECT_FALSE(quant_dequant_vec(d));
  d = gemm_block(int4_weight());
  d.out = at(0x20008);  // 8-byte aligned output
  EXPECT_FALSE(quant_dequant_vec(d));
  d = gemm_block(int4_weight());
  d.out_rs = 4100;  // f16 rows 8200 bytes apart: every other row misaligned
  EXPECT_FALSE(quant_dequant_vec(d));
  d.out_dt = kF32;  // f32 rows 16400 bytes apart: aligned
  EXPECT_TRUE(quant_dequant_vec(d));
  // int4 codes need 4-byte loads (slice_k at column 8: 4 bytes in), int8 8-byte loads.
  QWDesc w = int4_weight();
  w.codes = at(0x10004);
  EXPECT_TRUE(quant_dequant_vec(gemm_block(w)));
  w.codes = at(0x10002);
  EXPECT_FALSE(quant_dequant_vec(gemm_block(w)));
  w = int4_weight(64, 4097, 4097);  // per-channel, odd K: 2049-byte code rows
  EXPECT_FALSE(quant_dequant_vec(gemm_block(w)));
  w = int4_weight();
  w.format = 3, w.code_rs = w.k, w.codes = at(0x10004);  // fp8, 4-byte aligned: no 8-byte loads
  EXPECT_FALSE(quant_dequant_vec(gemm_block(w)));
}

TEST(CudaQuantPlan, GemvVectorLoadsStayInsideOneAlignedGroup) {
  EXPECT_TRUE(quant_gemv_vec(int4_weight()));
  EXPECT_TRUE(quant_gemv_vec(int4_weight(64, 4096, 32)));
  EXPECT_TRUE(quant_gemv_vec(int4_weight(64, 4096, 4096)));   // per channel (group = k)
  EXPECT_FALSE(quant_gemv_vec(int4_weight(64, 4112, 4112)));  // 2056-byte rows: not 16-aligned
  EXPECT_FALSE(quant_gemv_vec(int4_weight(64, 1000, 1000)));  // K not whole 32-element loads
  QWDesc w = int4_weight();
  w.codes = at(0x10008);  // a slice_n / slice_k view 8 bytes in
  EXPECT_FALSE(quant_gemv_vec(w));
  w = int4_weight(64, 48, 48);  // 24-byte rows
  EXPECT_FALSE(quant_gemv_vec(w));
  w = int4_weight(64, 4096, 32);
  w.format = 0, w.code_rs = w.k;  // int8 g32: 16 codes per load
  EXPECT_TRUE(quant_gemv_vec(w));
  w.k = 4104, w.code_rs = 4104, w.group = 4104;  // per channel, 4104 % 16 = 8
  EXPECT_FALSE(quant_gemv_vec(w));
}

}  // namespace
}  // namespace porta::cuda
