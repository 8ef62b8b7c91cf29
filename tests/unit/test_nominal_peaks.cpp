// The shared table of published peaks (core/nominal_peaks.h): which names a row takes.
#include <gtest/gtest.h>

#include <string>

#include "core/nominal_peaks.h"

namespace {

using porta::peaks::find_nominal_peak;

std::string model(const std::string& name) {
  const auto* p = find_nominal_peak(name);
  return p ? p->model : "";
}

TEST(NominalPeaks, ModelsMatchAsTokens) {
  EXPECT_EQ(model("NVIDIA H100 80GB HBM3"), "H100");
  EXPECT_EQ(model("NVIDIA H100 PCIe"), "H100");
  EXPECT_EQ(model("NVIDIA H200"), "H200");
  EXPECT_EQ(model("NVIDIA H20"), "H20");
  EXPECT_EQ(model("NVIDIA A100-SXM4-40GB"), "A100");
  EXPECT_EQ(model("NVIDIA A800 80GB PCIe"), "A800");
  EXPECT_EQ(model("NVIDIA H1000"), "");
  EXPECT_EQ(model("XH100"), "");
  EXPECT_EQ(model("llvmpipe (LLVM 15.0.6, 256 bits)"), "");
  EXPECT_EQ(model("pthread-skylake-avx512-AMD EPYC"), "");
}

TEST(NominalPeaks, OnlyTheExportPartIsCapped) {
  for (const auto& p : porta::peaks::kNominalPeaks)
    EXPECT_EQ(p.capped, std::string(p.model) == "H20") << p.model;
  const auto* h20 = find_nominal_peak("NVIDIA H20");
  ASSERT_NE(h20, nullptr);
  EXPECT_DOUBLE_EQ(h20->tflops_f16, 148.0);
  EXPECT_DOUBLE_EQ(h20->gbps, 4000.0);
}

}  // namespace
