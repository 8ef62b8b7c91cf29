// CudaDevice: what the runtime reports about one GPU, turned into porta's DeviceInfo
// (capabilities and peak estimates), plus the factory methods.
#include <cstdio>
#include <string>

#include "backends/cuda/cuda_error.h"
#include "backends/cuda/cuda_objects.h"
#include "backends/cuda/device_peaks.h"
#include "backends/cuda/rows_plan.h"
#include "kernels/cuda/launch.h"

namespace porta::cuda {
namespace {

int attribute(pcDeviceAttr attr, int ordinal) {
  int v = 0;
  check(static_cast<int>(pcDeviceGetAttribute(&v, attr, ordinal)), "cudaDeviceGetAttribute");
  return v;
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

void set_device(int ordinal) {
  // Per host thread, and set on every call (not cached): the application may switch the
  // thread's device between porta calls with its own CUDA code.
  check(static_cast<int>(pcSetDevice(ordinal)), "cudaSetDevice(" + std::to_string(ordinal) + ")");
}

CudaDevice::CudaDevice(int ordinal, const CudaSettings& settings) : ordinal_(ordinal), settings_(settings) {
  set_device(ordinal);
  pcDeviceProp prop{};
  check(static_cast<int>(pcGetDeviceProperties(&prop, ordinal)), "cudaGetDeviceProperties");
  const int major = attribute(pcDevAttrComputeCapabilityMajor, ordinal);
  const int minor = attribute(pcDevAttrComputeCapabilityMinor, ordinal);
  int driver = 0, runtime = 0;
  (void)pcDriverGetVersion(&driver);
  (void)pcRuntimeGetVersion(&runtime);

  info_.name = prop.name;
  info_.vendor = PORTA_DIALECT_NAME == std::string("hip") ? "AMD/Hygon" : "NVIDIA";
  info_.driver = std::string(PORTA_DIALECT_NAME) + " driver " + version_text(driver) + ", runtime " +
                 version_text(runtime) + ", compute capability " + std::to_string(major) + "." +
                 std::to_string(minor);
  info_.type = prop.integrated ? DeviceType::integrated_gpu : DeviceType::discrete_gpu;
  info_.software = false;
#if !defined(PORTA_DIALECT_HIP)
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    const auto byte = static_cast<unsigned char>(prop.uuid.bytes[i]);
    info_.uuid += hex[byte >> 4];
    info_.uuid += hex[byte & 15];
  }
#endif
  char bus[32];
  std::snprintf(bus, sizeof bus, "%04x:%02x:%02x.0", prop.pciDomainID, prop.pciBusID, prop.pciDeviceID);
  info_.pci_bus_id = bus;
  size_t free_b = 0, total_b = 0;
  check(static_cast<int>(pcMemGetInfo(&free_b, &total_b)), "cudaMemGetInfo");
  info_.memory_bytes = total_b;
  info_.max_allocation_bytes = total_b;
  info_.dtypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) | dtype_bit(DType::bf16) |
                 dtype_bit(DType::i8) | dtype_bit(DType::i32);
  info_.compute_units = prop.multiProcessorCount;
  info_.subgroup_size = prop.warpSize;
  info_.shared_memory_bytes =
      static_cast<uint64_t>(attribute(pcDevAttrMaxSharedMemoryPerBlockOptin, ordinal));
  info_.max_workgroup_size = prop.maxThreadsPerBlock;

  gemm_facts_.cc_major = major;
  gemm_facts_.cc_minor = minor;
  gemm_facts_.sm_count = prop.multiProcessorCount;
  gemm_facts_.partition_sms = settings.deterministic ? kDeterministicPartitionSms : 0;
  gemm_facts_.nvidia_paths = gemm_sm80_compiled();
  gemm_facts_.sm90_built = gemm_sm90_compiled();
  info_.matrix_units = gemm_facts_.nvidia_paths && major >= 8;
#if defined(PORTA_DIALECT_HIP)
  constexpr bool kHip = true;
#else
  constexpr bool kHip = false;
#endif
  tuning_ = tuning_for(device_key(kHip, major, minor, info_.name), settings.tuning, settings.tuning_env);
  info_.driver += ", tuning " + tuning_.row;

  PeakInputs in;
  in.name = info_.name;
#if defined(PORTA_DIALECT_HIP)
  // HIP reports gfx9 parts as "9.0": not NVIDIA's sm_90 rates. Bandwidth still comes out right.
  in.major = 0;
  in.minor = 0;
#else
  in.major = major;
  in.minor = minor;
#endif
  in.sm_count = prop.multiProcessorCount;
  in.sm_clock_khz = attribute(pcDevAttrClockRate, ordinal);
  in.mem_clock_khz = attribute(pcDevAttrMemoryClockRate, ordinal);
  in.bus_width_bits = attribute(pcDevAttrGlobalMemoryBusWidth, ordinal);
  in.tensor_cores_used = info_.matrix_units;
  const Peaks p = compute_peaks(in);
  info_.peak_tflops_f32 = p.tflops_f32;
  info_.peak_tflops_f16 = p.tflops_f16;
  info_.peak_gbps = p.gbps;
  info_.peak_source = p.source;

  pooled_ = attribute(pcDevAttrMemoryPoolsSupported, ordinal) != 0;
  if (pooled_) {
    // Keep freed memory in the pool (default threshold 0 returns it at every sync).
    pcMemPool_t pool = nullptr;
    check(static_cast<int>(pcDeviceGetDefaultMemPool(&pool, ordinal)), "cudaDeviceGetDefaultMemPool");
    uint64_t keep = ~uint64_t{0};
    check(static_cast<int>(pcMemPoolSetAttribute(pool, pcMemPoolAttrReleaseThreshold, &keep)),
          "cudaMemPoolSetAttribute(release threshold)");
  }
}

std::unique_ptr<Buffer> CudaDevice::allocate(uint64_t bytes) {
  if (bytes > info_.memory_bytes)
    throw Error(Errc::out_of_memory, std::string(PORTA_DIALECT_NAME) + ":" + std::to_string(ordinal_) +
                                         ": cannot allocate " + std::to_string(bytes) +
                                         " bytes, the device has " + std::to_string(info_.memory_bytes) +
                                         "; use smaller tensors");
  return std::make_unique<CudaBuffer>(ordinal_, bytes, pooled_);
}

std::unique_ptr<backend::Queue> CudaDevice::create_queue() { return std::make_unique<CudaQueue>(*this); }

std::unique_ptr<backend::Event> CudaDevice::create_event() { return std::make_unique<CudaEvent>(ordinal_); }

TDesc to_desc(const backend::TensorArg& t) {
  TDesc d;
  d.ptr = static_cast<CudaBuffer*>(t.buffer)->device_ptr() + t.offset;
  d.dtype = static_cast<int32_t>(t.dtype);
  const int shift = 4 - t.rank;
  for (int i = 0; i < t.rank; ++i) {
    d.shape[i + shift] = t.shape[i];
    d.strides[i + shift] = t.strides[i];
  }
  return d;
}

TDesc slice_desc(TDesc t, int dim, int64_t start, int64_t count) {
  t.ptr += start * t.strides[dim] * kdtype_bytes(t.dtype);
  t.shape[dim] = count;
  return t;
}

}  // namespace porta::cuda
