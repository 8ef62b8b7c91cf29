#include "backends/opencl/device.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/opencl/queue.h"
#include "core/nominal_peaks.h"

namespace porta::opencl {

std::string device_string(cl_device_id dev, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(dev, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  if (clGetDeviceInfo(dev, what, n, &s[0], nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  if (clGetPlatformInfo(p, what, n, &s[0], nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

namespace {

bool has_extension(const std::string& list, const char* ext) {
  const size_t n = std::strlen(ext);
  for (size_t pos = list.find(ext); pos != std::string::npos; pos = list.find(ext, pos + 1)) {
    const bool start = pos == 0 || list[pos - 1] == ' ';
    const bool end = pos + n == list.size() || list[pos + n] == ' ';
    if (start && end) return true;
  }
  return false;
}

// FP32 lanes per compute unit, for the nominal peak only (porta-bench measures the real one).
int lanes_per_cu(const std::string& vendor, bool is_cpu, int pref_vec_float) {
  if (is_cpu) return 2 * std::max(4, pref_vec_float);  // two FMA pipes of the preferred width
  std::string v = vendor;
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v.find("nvidia") != std::string::npos) return 128;
  if (v.find("intel") != std::string::npos) return 16;
  return 64;
}

}  // namespace

ClDevice::ClDevice(cl_platform_id platform, cl_device_id dev, cl_context ctx, const std::string& cache_dir,
                   const std::string& gemm_tile, const std::string& device_class, bool deterministic)
    : dev_(dev), ctx_(ctx) {
  fill_info(platform);
  traits_.partition_units = deterministic ? kDeterministicPartitionUnits : traits_.compute_units;
  const bool cpu_class = device_class == "auto" ? traits_.is_cpu : device_class == "cpu";
  tuning_ = tuning_for(cpu_class, traits_.partition_units, traits_.pref_vec_float, info_.vendor, info_.name);
  // Work-groups no larger than the device allows (the table assumes >= 256).
  while (tuning_.row.wg > 1 && static_cast<size_t>(tuning_.row.wg) > traits_.max_workgroup)
    tuning_.row.wg /= 2;
  while (tuning_.gemm.wg_m * tuning_.gemm.wg_n > 1 &&
         static_cast<size_t>(tuning_.gemm.wg_m * tuning_.gemm.wg_n) > traits_.max_workgroup) {
    if (tuning_.gemm.wg_m >= tuning_.gemm.wg_n)
      tuning_.gemm.wg_m /= 2;
    else
      tuning_.gemm.wg_n /= 2;
  }
  if (cpu_class != traits_.is_cpu)
    backend::log(backend::LogLevel::info, "opencl: '" + info_.name + "' uses the " + device_class +
                                              " kernel parameters (PORTA_OPENCL_DEVICE_CLASS)");
  try {
    apply_gemm_tile_override(tuning_.gemm, gemm_tile);
  } catch (...) {
    clReleaseContext(ctx_);
    throw;
  }
  const std::string key = platform_string(platform, CL_PLATFORM_NAME) + '|' + info_.name + '|' +
                          info_.vendor + '|' + info_.driver + '|' + device_string(dev, CL_DEVICE_VERSION);
  programs_ = std::make_unique<ProgramCache>(ctx_, dev_, key, cache_dir);
  // porta-info lists the row the device got (after the cache key: the row is not the driver's).
  info_.driver += std::string(", tuning ") + tuning_.row_id;
  // Keep up to 1/8 of device memory (at most 1 GiB) of freed buffers for reuse.
  const uint64_t keep = std::min<uint64_t>(info_.memory_bytes / 8, 1ull << 30);
  // Huge-page host memory only where the device computes on host memory as is (a CPU device);
  // an integrated GPU may share the memory but not the host's page tables.
  const uint64_t huge_min =
      traits_.is_cpu && traits_.host_unified ? static_cast<uint64_t>(tuning_.memory.huge_host_min) : 0;
  pool_ = std::make_unique<BufferPool>(ctx_, info_.memory_bytes, traits_.max_alloc, keep, huge_min);
}

ClDevice::~ClDevice() {
  pool_.reset();
  programs_.reset();
  clReleaseContext(ctx_);
}

void ClDevice::fill_info(cl_platform_id platform) {
  const auto type = device_value<cl_device_type>(dev_, CL_DEVICE_TYPE);
  traits_.is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
  traits_.host_unified = device_value<cl_bool>(dev_, CL_DEVICE_HOST_UNIFIED_MEMORY) != CL_FALSE;
  const std::string ext = device_string(dev_, CL_DEVICE_EXTENSIONS);
  traits_.fp16 = has_extension(ext, "cl_khr_fp16");
  traits_.fp64 = has_extension(ext, "cl_khr_fp64");
  traits_.subgroups = has_extension(ext, "cl_khr_subgroups") || has_extension(ext, "cl_intel_subgroups");
  traits_.opencl_c_version = device_string(dev_, CL_DEVICE_OPENCL_C_VERSION);
  // A CPU device runs on this host: fma() is fast exactly when the host has FMA. GPUs all do.
#if defined(__x86_64__) || defined(__i386__)
  traits_.fast_fma = !traits_.is_cpu || __builtin_cpu_supports("fma");
#else
  traits_.fast_fma = true;
#endif
  traits_.compute_units = static_cast<int>(device_value<cl_uint>(dev_, CL_DEVICE_MAX_COMPUTE_UNITS, 1));
  traits_.max_workgroup = device_value<size_t>(dev_, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1);
  traits_.local_mem = device_value<cl_ulong>(dev_, CL_DEVICE_LOCAL_MEM_SIZE);
  traits_.pref_vec_float =
      static_cast<int>(device_value<cl_uint>(dev_, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, 1));
  traits_.pref_vec_half =
      static_cast<int>(device_value<cl_uint>(dev_, CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF, 0));
  traits_.max_alloc = device_value<cl_ulong>(dev_, CL_DEVICE_MAX_MEM_ALLOC_SIZE);

  const std::string platform_name = platform_string(platform, CL_PLATFORM_NAME);
  info_.name = device_string(dev_, CL_DEVICE_NAME);
  info_.vendor = device_string(dev_, CL_DEVICE_VENDOR);
  info_.driver = platform_name + " " + device_string(dev_, CL_DRIVER_VERSION) + " (" +
                 device_string(dev_, CL_DEVICE_VERSION) + ", " + traits_.opencl_c_version +
                 (traits_.fp16 ? ", fp16" : ", no fp16") + (traits_.subgroups ? ", subgroups" : "") + ")";
  info_.type = traits_.is_cpu                     ? DeviceType::cpu
               : (type & CL_DEVICE_TYPE_GPU) == 0 ? DeviceType::other
               : traits_.host_unified             ? DeviceType::integrated_gpu
                                                  : DeviceType::discrete_gpu;
  // PoCL's CPU device and any other CPU runtime run on the host: never chosen by 'auto'.
  info_.software = traits_.is_cpu || platform_name.find("Portable Computing Language") != std::string::npos;
  info_.memory_bytes = device_value<cl_ulong>(dev_, CL_DEVICE_GLOBAL_MEM_SIZE);
  info_.max_allocation_bytes = traits_.max_alloc;
  // Half types are storage only (vload_half / bit unpacking), so every device has all dtypes.
  info_.dtypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) | dtype_bit(DType::bf16) |
                 dtype_bit(DType::i8) | dtype_bit(DType::i32);
  info_.compute_units = traits_.compute_units;
  info_.subgroup_size = traits_.is_cpu ? std::max(1, traits_.pref_vec_float) : 0;
  info_.shared_memory_bytes = traits_.local_mem;
  info_.max_workgroup_size = static_cast<int>(traits_.max_workgroup);
  info_.matrix_units = false;
  const double mhz = device_value<cl_uint>(dev_, CL_DEVICE_MAX_CLOCK_FREQUENCY);
  info_.peak_tflops_f32 = traits_.compute_units * mhz * 1e6 * 2.0 *
                          lanes_per_cu(info_.vendor, traits_.is_cpu, traits_.pref_vec_float) / 1e12;
  info_.peak_tflops_f16 = info_.peak_tflops_f32;  // half is converted to f32 for arithmetic
  info_.peak_gbps = 0;
  info_.peak_source = "nominal (compute units x clock x FP32 lanes); porta-bench measures the real one";
  // A part in the shared table (core/nominal_peaks.h): its FP32 and bandwidth figures (the
  // kernels convert half to f32, so the f16 peak stays the f32 one).
  if (const peaks::NominalPeak* r = peaks::find_nominal_peak(info_.name)) {
    info_.peak_tflops_f32 = info_.peak_tflops_f16 = r->tflops_f32;
    info_.peak_gbps = r->gbps;
    info_.peak_source = std::string("nominal (datasheet figures for ") + r->model + ")";
  }
}

std::unique_ptr<backend::Buffer> ClDevice::allocate(uint64_t bytes) { return pool_->allocate(bytes); }

std::unique_ptr<backend::Queue> ClDevice::create_queue() { return std::make_unique<ClQueue>(*this); }

std::unique_ptr<backend::Event> ClDevice::create_event() { return std::make_unique<ClEvent>(); }

bool ClDevice::supports(backend::Op op, DType in, DType out) const {
  (void)op;
  return (info_.dtypes & dtype_bit(in)) && (info_.dtypes & dtype_bit(out));
}

// Every format with every float dtype: kernels/opencl/quant.cl decodes each format with
// integer ops and half types through vload_half / bit shifts (OpenCL C 1.2, no extension).
bool ClDevice::supports_quant(backend::Op op, QuantFormat f, DType act) const {
  (void)op;
  (void)f;
  return act == DType::f32 || act == DType::f16 || act == DType::bf16;
}

}  // namespace porta::opencl
