// One OpenCL device: its context, what it can do (DeviceInfo and the traits kernels are
// specialised on), the buffer pool and the program cache. Methods are thread safe.
#pragma once

#include <memory>
#include <string>

#include "backends/opencl/buffer_pool.h"
#include "backends/opencl/cl_common.h"
#include "backends/opencl/program_cache.h"
#include "backends/opencl/tuning.h"
#include "core/backend.h"

namespace porta::opencl {

/// What the kernels are specialised on, read once at enumeration.
struct DeviceTraits {
  bool is_cpu = false;
  bool host_unified = false;  // CL_DEVICE_HOST_UNIFIED_MEMORY: buffers can be host memory as is
  bool fp16 = false;          // cl_khr_fp16: half arithmetic (storage works without it)
  bool fp64 = false;          // cl_khr_fp64
  bool subgroups = false;     // cl_khr_subgroups or cl_intel_subgroups
  bool fast_fma = false;      // fma() is a hardware instruction (GPUs; CPU devices on an FMA host)
  std::string opencl_c_version;
  int compute_units = 1;
  // Compute units assumed when choosing split-K / split-KV counts: compute_units, or a
  // constant under PORTA_DETERMINISTIC so the split (and the rounding) is the shape's alone.
  int partition_units = 1;
  size_t max_workgroup = 1;
  uint64_t local_mem = 0;
  int pref_vec_float = 1, pref_vec_half = 0;
  uint64_t max_alloc = 0;
};

class ClDevice final : public backend::Device {
 public:
  /// Takes a retained context for `dev`. `cache_dir` empty: no on-disk program cache.
  /// `gemm_tile`: PORTA_OPENCL_GEMM_TILE override (empty: the tuning table's values).
  /// `device_class`: PORTA_OPENCL_DEVICE_CLASS ("auto", or "cpu"/"gpu" to force the kernel
  /// parameter class, e.g. to run the GPU kernels' code paths on PoCL). `deterministic`:
  /// PORTA_DETERMINISTIC (DeviceTraits::partition_units).
  ClDevice(cl_platform_id platform, cl_device_id dev, cl_context ctx, const std::string& cache_dir,
           const std::string& gemm_tile, const std::string& device_class, bool deterministic);
  ~ClDevice() override;

  DeviceInfo& info() override { return info_; }
  std::unique_ptr<backend::Buffer> allocate(uint64_t bytes) override;
  std::unique_ptr<backend::Queue> create_queue() override;
  std::unique_ptr<backend::Event> create_event() override;
  bool supports(backend::Op op, DType in, DType out) const override;
  bool supports_quant(backend::Op op, QuantFormat f, DType act) const override;

  cl_context context() const { return ctx_; }
  cl_device_id id() const { return dev_; }
  const DeviceTraits& traits() const { return traits_; }
  const DeviceTuning& tuning() const { return tuning_; }
  ProgramCache& programs() { return *programs_; }
  BufferPool& pool() { return *pool_; }

 private:
  void fill_info(cl_platform_id platform);

  cl_device_id dev_;
  cl_context ctx_;
  DeviceInfo info_;
  DeviceTraits traits_;
  DeviceTuning tuning_;
  std::unique_ptr<ProgramCache> programs_;
  std::unique_ptr<BufferPool> pool_;
};

/// String and scalar device queries.
std::string device_string(cl_device_id dev, cl_device_info what);
std::string platform_string(cl_platform_id p, cl_platform_info what);
template <typename T>
T device_value(cl_device_id dev, cl_device_info what, T fallback = T{}) {
  T v{};
  return clGetDeviceInfo(dev, what, sizeof v, &v, nullptr) == CL_SUCCESS ? v : fallback;
}

}  // namespace porta::opencl
