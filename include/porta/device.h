// Devices: discovery, selection by PORTA_DEVICE, and what each one can do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "porta/dtype.h"

namespace porta {

namespace detail {
class DeviceImpl;
}
class Stream;

enum class DeviceType : uint8_t { discrete_gpu, integrated_gpu, cpu, other };

const char* device_type_name(DeviceType t) noexcept;

/// Static description of a device. Peaks are estimates (nominal or measured once);
/// benchmarks report percentages of them.
struct DeviceInfo {
  std::string backend;  // "cpu", "cuda", "vulkan", "opencl", ...
  int index = 0;        // index within the backend's list, as porta-info prints it
  std::string name;
  std::string vendor;
  std::string driver;  // driver / runtime version string
  DeviceType type = DeviceType::other;
  bool software = false;      // runs on the host CPU (llvmpipe, PoCL, the cpu backend)
  std::string uuid;           // lower-case hex, empty when unknown; same GPU → same uuid across APIs
  std::string pci_bus_id;     // "0000:65:00.0" or empty
  uint64_t memory_bytes = 0;  // memory usable for tensors
  uint64_t max_allocation_bytes = 0;  // largest single tensor buffer
  uint32_t dtypes = 0;                // bit set of dtype_bit(DType) supported by the ops
  int compute_units = 0;              // SMs, CUs, cores
  int subgroup_size = 0;              // warp / wavefront / SIMD width
  uint64_t shared_memory_bytes = 0;   // per workgroup
  int max_workgroup_size = 0;
  bool matrix_units = false;   // tensor cores / cooperative matrix usable by porta
  double peak_tflops_f32 = 0;  // dense FMA peak
  double peak_tflops_f16 = 0;  // dense f16/bf16 peak with the units porta uses
  double peak_gbps = 0;        // memory bandwidth
  std::string peak_source;     // how the peaks were obtained ("measured", "nominal", ...)

  bool supports(DType t) const { return (dtypes & dtype_bit(t)) != 0; }
};

/// A handle to one device. Cheap to copy; all copies refer to the same device.
/// Thread safe.
class Device {
 public:
  Device() = default;

  /// Picks a device by spec (see README, "Deploy-time selection"). An empty spec
  /// means the PORTA_DEVICE environment variable, or "auto" when it is unset.
  /// Throws Error(backend_unavailable / invalid_argument) listing every device found.
  static Device select(const std::string& spec = "");
  /// After `lost` raised Errc::device_lost: a new handle for the same physical device
  /// (same backend, index and identity), from a freshly created backend device. The old
  /// handle, and its tensors, streams and events, keep refusing work; porta::devices() and
  /// select() keep listing the old handle (discovery runs once per process), so keep the
  /// returned one. Throws invalid_argument when `lost` is not lost, unsupported when its
  /// backend cannot re-create devices (then restart the process).
  static Device recreate(const Device& lost);

  const DeviceInfo& info() const;
  /// "cuda:0 (NVIDIA H100 80GB HBM3)"
  std::string description() const;

  /// The device's default stream (created on first use, shared by all handles).
  Stream& default_stream() const;

  bool valid() const { return impl_ != nullptr; }
  bool operator==(const Device& o) const { return impl_ == o.impl_; }
  bool operator!=(const Device& o) const { return impl_ != o.impl_; }

  /// Bytes currently allocated by porta tensors on this device.
  uint64_t allocated_bytes() const;

  /// Whether the op named `op` (an ops:: function: "gemm", "softmax", "cast", ...) runs here
  /// reading dtype `in` and writing `out`: what the call raises Errc::unsupported for. Finer
  /// than info().dtypes (a device may lack one op in one dtype). Unknown names: invalid_argument.
  bool supports(const std::string& op, DType in, DType out) const;

  // internal
  explicit Device(std::shared_ptr<detail::DeviceImpl> impl) : impl_(std::move(impl)) {}
  detail::DeviceImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<detail::DeviceImpl>& shared_impl() const { return impl_; }

 private:
  std::shared_ptr<detail::DeviceImpl> impl_;
};

/// Every device of every backend that loaded, in backend order (cuda, vulkan,
/// opencl, cpu) and device index order. Discovery runs once per process.
const std::vector<Device>& devices();

/// Problems met while loading backends (modules that failed to load, drivers
/// that reported no device), for porta-info and error messages.
std::vector<std::string> backend_diagnostics();

}  // namespace porta
