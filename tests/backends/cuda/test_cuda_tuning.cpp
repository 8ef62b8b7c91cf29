// The CUDA/HIP tuning table (tuning.h), checked without a GPU: the lookup, the text form and
// PORTA_CUDA_TUNING overrides, and that the planners read the row rather than constants.
#include <gtest/gtest.h>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/gemm_plan.h"
#include "backends/cuda/paged_plan.h"
#include "backends/cuda/tuning.h"
#include "kernels/cuda/gemm_tiles.h"
#include "porta/error.h"

namespace porta::cuda {
namespace {

const tuning::DeviceKey kH100 = device_key(false, 9, 0, "NVIDIA H100 80GB HBM3");

TEST(CudaTuning, KeysNameVendorClassAndDevice) {
  EXPECT_EQ(kH100.vendor, "nvidia");
  EXPECT_EQ(kH100.cls, "sm90");
  EXPECT_EQ(device_key(false, 8, 6, "x").cls, "sm86");
  const tuning::DeviceKey hip = device_key(true, 9, 0, "AMD Instinct MI210");
  EXPECT_EQ(hip.vendor, "amd");
  EXPECT_EQ(hip.cls, "gfx");  // hip's "9.0" is not NVIDIA's sm_90
}

TEST(CudaTuning, EveryDeviceGetsARowAndTheDefaultIsLast) {
  const Tuning t = tuning_for(kH100, "auto", "PORTA_CUDA_TUNING");
  EXPECT_EQ(t.row, "default");
  const auto& last = kTuningTable[sizeof(kTuningTable) / sizeof(kTuningTable[0]) - 1];
  EXPECT_EQ(last.vendor, nullptr);
  EXPECT_EQ(last.cls, nullptr);
  EXPECT_EQ(last.name, nullptr);
  // The rows' values stay inside what the kernels were compiled for.
  for (const auto& r : kTuningTable) {
    EXPECT_LE(r.params.gemm.gemv_max_m, gemm_tile_gemv().block_m) << r.id;
    EXPECT_LE(r.params.paged.max_rows, 8) << r.id;
    EXPECT_EQ(r.params.paged.split_align % 16, 0) << r.id;
    EXPECT_LE(r.params.quant.gemv_max_m, 16) << r.id;
  }
}

TEST(CudaTuning, TextFormRoundTripsEveryField) {
  const Tuning t = tuning_for(kH100, "", "PORTA_CUDA_TUNING");
  const std::string text = tuning_text(t);
  size_t items = 1;
  for (char c : text) items += c == ' ';
  EXPECT_EQ(items, sizeof(kTuningFields) / sizeof(kTuningFields[0]));
  const Tuning back = tuning_for(kH100, text, "PORTA_CUDA_TUNING");
  EXPECT_EQ(tuning_text(back), text);
  EXPECT_EQ(back.row, "default + PORTA_CUDA_TUNING");
}

TEST(CudaTuning, OverridesApplyOverTheDevicesRow) {
  const Tuning t = tuning_for(kH100, "attn.max_splits=8 paged.ctas_per_sm=2", "PORTA_CUDA_TUNING");
  EXPECT_EQ(t.attn.max_splits, 8);
  EXPECT_EQ(t.paged.ctas_per_sm, 2);
  EXPECT_EQ(t.gemm.gemv_max_m, TuningParams{}.gemm.gemv_max_m);  // untouched fields keep the row's
  EXPECT_EQ(tuning_for(kH100, "default", "PORTA_CUDA_TUNING").row, "default (PORTA_CUDA_TUNING)");
}

TEST(CudaTuning, BadOverridesNameTheVariableAndTheFix) {
  auto message = [](const std::string& setting) {
    try {
      (void)tuning_for(kH100, setting, "PORTA_CUDA_TUNING");
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
      return std::string(e.what());
    }
    ADD_FAILURE() << setting << " was accepted";
    return std::string();
  };
  EXPECT_NE(message("h20").find("names no tuning row"), std::string::npos);
  EXPECT_NE(message("attn.max_splits=0").find("out of range"), std::string::npos);
  EXPECT_NE(message("gemm.gemv_max_m=17").find("PORTA_CUDA_TUNING"), std::string::npos);
  EXPECT_NE(message("attn.nope=3").find("names no field"), std::string::npos);
  EXPECT_NE(message("paged.split_align=24").find("multiple of 16"), std::string::npos);
}

GemmShape gemv_shape(int64_t M) {
  GemmShape s;
  s.M = M, s.N = 4096, s.K = 4096;
  s.a = s.b = DType::bf16;
  s.a_strides[1] = 4096, s.b_strides[1] = 1, s.b_strides[2] = 4096;
  return s;
}

TEST(CudaTuning, PlannersReadTheRow) {
  GemmDeviceFacts h100{9, 0, 132, true, true};
  GemmTuning g;
  EXPECT_EQ(plan_gemm(gemv_shape(8), h100, GemmForce::none, g).path, GemmPath::gemv);
  g.gemv_max_m = 4;
  EXPECT_NE(plan_gemm(gemv_shape(8), h100, GemmForce::none, g).path, GemmPath::gemv);

  AttnShape a;
  a.B = 1, a.Hq = 8, a.Hkv = 8, a.Sq = 1, a.Skv = 65536, a.D = 80;  // D 80: the portable kernel
  AttnDeviceFacts dev;
  dev.cc_major = 9, dev.sm_count = 132, dev.smem_per_block = 227 * 1024;
  AttnTuning at;
  EXPECT_GT(plan_attention(a, dev, AttnForce::none, at).splits, 8);
  at.max_splits = 8;
  EXPECT_EQ(plan_attention(a, dev, AttnForce::none, at).splits, 8);

  PagedShape ps;
  ps.B = 1, ps.Hq = 32, ps.Hkv = 8, ps.max_q = 1, ps.max_k = 65536;
  PagedTuning pt;
  pt.max_splits = 3;
  EXPECT_EQ(plan_paged_attention(ps, 132, pt).splits, 3);
}

}  // namespace
}  // namespace porta::cuda
