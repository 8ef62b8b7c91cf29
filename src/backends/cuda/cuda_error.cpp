#include "backends/cuda/cuda_error.h"

#include "kernels/cuda/porta_cuda_runtime.h"

namespace porta::cuda {

bool is_sticky_status(int status) {
  switch (static_cast<pcError_t>(status)) {
    case pcErrorIllegalAddress:
    case pcErrorLaunchFailure:
    case pcErrorLaunchTimeout:
    case pcErrorECCUncorrectable:
#if !defined(PORTA_DIALECT_HIP)  // HIP folds these into hipErrorLaunchFailure
    case pcErrorHardwareStackError:
    case pcErrorIllegalInstruction:
    case pcErrorMisalignedAddress:
    case pcErrorInvalidPc:
#endif
    case pcErrorAssert:
    case pcErrorContextIsDestroyed: return true;
    default: return false;
  }
}

Errc errc_for_status(int status) {
  if (is_sticky_status(status)) return Errc::device_lost;
  switch (static_cast<pcError_t>(status)) {
    case pcErrorMemoryAllocation: return Errc::out_of_memory;
    case pcErrorNoDevice:
    case pcErrorInsufficientDriver:
    case pcErrorInitializationError:
#if !defined(PORTA_DIALECT_HIP)
    case pcErrorStubLibrary:
    case pcErrorDevicesUnavailable:
#endif
      return Errc::backend_unavailable;
    case pcErrorNotSupported:
    case pcErrorNoKernelImageForDevice:
    case pcErrorInvalidDeviceFunction: return Errc::unsupported;
    default: return Errc::internal;
  }
}

std::string status_text(int status) {
  const auto e = static_cast<pcError_t>(status);
  const char* name = pcGetErrorName(e);
  const char* text = pcGetErrorString(e);
  return std::string(name ? name : "unknown status") + " " + std::to_string(status) + " (" +
         (text ? text : "no description") + ")";
}

std::string error_message(const std::string& call, int status) {
  std::string msg = PORTA_DIALECT_NAME ": " + call + " failed: " + status_text(status);
  switch (errc_for_status(status)) {
    case Errc::device_lost:
      msg += "; the device context is unusable: re-create the device (restart the process)";
      break;
    case Errc::out_of_memory: msg += "; free tensors or use smaller ones"; break;
    case Errc::backend_unavailable:
      msg += "; check the NVIDIA driver (nvidia-smi) and device visibility";
      break;
    case Errc::unsupported:
      msg +=
          "; this build has no kernel image for the device: rebuild with its architecture in "
          "CMAKE_CUDA_ARCHITECTURES";
      break;
    default: msg += "; this is a porta bug: please report it with the call above"; break;
  }
  return msg;
}

void check(int status, const std::string& call) {
  if (status == 0) return;
  throw Error(errc_for_status(status), error_message(call, status));
}

}  // namespace porta::cuda
