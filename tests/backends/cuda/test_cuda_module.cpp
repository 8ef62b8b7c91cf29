// The cuda module on whatever host runs the tests: it loads (cudart is static), and either
// lists devices that look sane or lists none and says why, without failing at start-up.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "porta/porta.h"

namespace {

std::string all_diagnostics() {
  std::string s;
  for (const auto& l : porta::backend_diagnostics()) s += l + "\n";
  return s;
}

TEST(CudaModule, LoadsAndListsDevicesOrSaysWhyNone) {
  const char* bad = getenv("PORTA_CUDA_GEMM_PATH");
  if (bad && std::string(bad) == "sm70") GTEST_SKIP() << "run by unit_cuda_bad_setting";
  int cuda = 0;
  for (const auto& d : porta::devices()) {
    if (d.info().backend != "cuda") continue;
    ++cuda;
    EXPECT_EQ(d.info().type, porta::DeviceType::discrete_gpu);
    EXPECT_GT(d.info().memory_bytes, 0u);
    EXPECT_GT(d.info().compute_units, 0);
    EXPECT_GT(d.info().peak_gbps, 0.0);
    EXPECT_GT(d.info().peak_tflops_f16, 0.0);
    EXPECT_EQ(d.info().uuid.size(), 32u);
  }
  const std::string diag = all_diagnostics();
  EXPECT_EQ(diag.find("failed to load"), std::string::npos) << diag;
  if (cuda == 0) {
    EXPECT_NE(diag.find("cuda"), std::string::npos) << diag;
    EXPECT_NE(diag.find("no devices"), std::string::npos) << diag;
    try {
      porta::Device::select("cuda");
      FAIL() << "selected a cuda device on a host without one";
    } catch (const porta::Error& e) {
      EXPECT_EQ(e.code(), porta::Errc::backend_unavailable) << e.what();
    }
  }
}

// PORTA_CUDA_GEMM_PATH=sm70 (set by CTest): a bad setting is reported, not ignored.
// Run by ctest with one invalid PORTA_CUDA_* setting (unit_cuda_bad_*): the backend does
// not start, and the diagnostics name the variable and its value.
void expect_bad_setting_reported(const char* var, const char* value) {
  const char* bad = getenv(var);
  if (!bad || std::string(bad) != value) GTEST_SKIP() << "needs " << var << "=" << value;
  (void)porta::devices();
  const std::string diag = all_diagnostics();
  EXPECT_NE(diag.find(std::string(var) + "='" + value + "'"), std::string::npos) << diag;
}

TEST(CudaModule, BadSettingIsReported) { expect_bad_setting_reported("PORTA_CUDA_GEMM_PATH", "sm70"); }

TEST(CudaModule, BadRowsSettingIsReported) { expect_bad_setting_reported("PORTA_CUDA_ROWS_PATH", "vector"); }

TEST(CudaModule, BadTuningSettingIsReported) { expect_bad_setting_reported("PORTA_CUDA_TUNING", "h20"); }

}  // namespace
