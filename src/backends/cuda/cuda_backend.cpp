// The CUDA backend object and module entry. cudart is linked statically, so this module
// loads on hosts without the NVIDIA driver; enumerate() then finds no device and says why
// in diagnostics() instead of failing. Built a second time as the `hip` backend from the
// same sources (PORTA_DIALECT_HIP, see kernels/cuda/porta_cuda_runtime.h).
#include <string>
#include <vector>

#include "backends/cuda/cuda_error.h"
#include "backends/cuda/cuda_objects.h"

namespace porta::cuda {
namespace {

// Oldest compute capability the default build carries code for (CMAKE_CUDA_ARCHITECTURES).
constexpr int kMinMajor = 8;

std::string runtime_version() {
  int v = 0;
  (void)pcRuntimeGetVersion(&v);
#if defined(PORTA_DIALECT_HIP)  // major * 10^7 + minor * 10^5 + patch
  return std::to_string(v / 10000000) + "." + std::to_string(v / 100000 % 100);
#else  // major * 1000 + minor * 10
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
#endif
}

class CudaBackend final : public backend::Backend {
 public:
  const char* name() const override { return PORTA_DIALECT_NAME; }

  std::vector<std::unique_ptr<backend::Device>> enumerate(const backend::Options& opts) override {
    std::vector<std::unique_ptr<backend::Device>> out;
    CudaSettings settings = read_settings(opts);
    int count = 0;
    const pcError_t e = pcGetDeviceCount(&count);
    if (e != pcSuccess) {
      (void)pcGetLastError();
      diag_.push_back("no devices: the GPU driver is missing or older than this module's runtime " +
                      runtime_version() + " (" + status_text(static_cast<int>(e)) +
                      "); install or update the driver to use this backend");
      backend::log(backend::LogLevel::info, diag_.back());
      return out;
    }
    if (count == 0) diag_.push_back("the driver reports no devices");
    for (int i = 0; i < count; ++i) {
      try {
#if !defined(PORTA_DIALECT_HIP)
        int major = 0, minor = 0;
        check(static_cast<int>(pcDeviceGetAttribute(&major, pcDevAttrComputeCapabilityMajor, i)),
              "cudaDeviceGetAttribute");
        check(static_cast<int>(pcDeviceGetAttribute(&minor, pcDevAttrComputeCapabilityMinor, i)),
              "cudaDeviceGetAttribute");
        if (major < kMinMajor) {
          diag_.push_back("device " + std::to_string(i) + " has compute capability " + std::to_string(major) +
                          "." + std::to_string(minor) +
                          ", older than this build's oldest target (sm_80); rebuild with it in "
                          "CMAKE_CUDA_ARCHITECTURES to use it");
          continue;
        }
#endif
        out.push_back(std::make_unique<CudaDevice>(i, settings));
      } catch (const Error& err) {
        diag_.push_back("device " + std::to_string(i) + " skipped: " + err.what());
      }
    }
    return out;
  }

  std::vector<std::string> diagnostics() const override { return diag_; }

 private:
  CudaSettings read_settings(const backend::Options& opts) const {
    CudaSettings s;
    s.deterministic = opts.deterministic;
    const std::string gemm = opts.get ? opts.get(PORTA_DIALECT_NAME, "GEMM_PATH", "auto") : "auto";
    const std::string attn = opts.get ? opts.get(PORTA_DIALECT_NAME, "ATTN_PATH", "auto") : "auto";
    const std::string rows = opts.get ? opts.get(PORTA_DIALECT_NAME, "ROWS_PATH", "auto") : "auto";
    const std::string prefix =
        std::string("PORTA_") + (PORTA_DIALECT_NAME == std::string("hip") ? "HIP" : "CUDA");
    s.tuning = opts.get ? opts.get(PORTA_DIALECT_NAME, "TUNING", "auto") : "auto";
    s.tuning_env = prefix + "_TUNING";
    // Checked here, once, so a bad value fails enumeration with its name even without a device.
    (void)tuning_for(device_key(false, 0, 0, ""), s.tuning, s.tuning_env);
    if (s.tuning != "auto" && !s.tuning.empty())
      backend::log(backend::LogLevel::info, s.tuning_env + "=" + s.tuning + " overrides the tuning row");
    if (!parse_gemm_force(gemm, &s.gemm))
      throw Error(Errc::invalid_argument,
                  prefix + "_GEMM_PATH='" + gemm + "' is not one of auto, simt, gemv, sm80, sm90");
    if (!parse_attn_force(attn, &s.attn))
      throw Error(Errc::invalid_argument,
                  prefix + "_ATTN_PATH='" + attn + "' is not one of auto, simt, sm80, sm90");
    // The 16-byte vector kernels of the row and element-wise ops (rows_plan.h), or only the
    // strided ones: a way back if a driver or a dialect toolchain miscompiles the vector paths.
    if (rows == "strided")
      s.rows_vector = false;
    else if (rows != "auto")
      throw Error(Errc::invalid_argument, prefix + "_ROWS_PATH='" + rows + "' is not one of auto, strided");
    if (!s.rows_vector)
      backend::log(backend::LogLevel::info,
                   prefix + "_ROWS_PATH=strided: row and element-wise ops run the strided kernels");
    if (s.gemm != GemmForce::none)
      backend::log(backend::LogLevel::info, prefix + "_GEMM_PATH=" + gemm + " forces the GEMM path");
    if (s.attn != AttnForce::none)
      backend::log(backend::LogLevel::info, prefix + "_ATTN_PATH=" + attn + " forces the attention path");
    return s;
  }

  std::vector<std::string> diag_;
};

backend::Backend* create() { return new CudaBackend(); }

}  // namespace
}  // namespace porta::cuda

#if defined(PORTA_DIALECT_HIP)
PORTA_DEFINE_BACKEND(hip, porta::cuda::create)
#else
PORTA_DEFINE_BACKEND(cuda, porta::cuda::create)
#endif
