#include "backends/vulkan/vk_common.h"

namespace porta::vk {

const char* result_name(VkResult r) noexcept {
  switch (r) {
#define PORTA_VK_CASE(x) \
  case x: return #x;
    PORTA_VK_CASE(VK_SUCCESS)
    PORTA_VK_CASE(VK_NOT_READY)
    PORTA_VK_CASE(VK_TIMEOUT)
    PORTA_VK_CASE(VK_INCOMPLETE)
    PORTA_VK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    PORTA_VK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    PORTA_VK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    PORTA_VK_CASE(VK_ERROR_DEVICE_LOST)
    PORTA_VK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    PORTA_VK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    PORTA_VK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    PORTA_VK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    PORTA_VK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    PORTA_VK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    PORTA_VK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    PORTA_VK_CASE(VK_ERROR_FRAGMENTED_POOL)
    PORTA_VK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    PORTA_VK_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    PORTA_VK_CASE(VK_ERROR_FRAGMENTATION)
    PORTA_VK_CASE(VK_ERROR_INVALID_SHADER_NV)
    PORTA_VK_CASE(VK_ERROR_UNKNOWN)
#undef PORTA_VK_CASE
    default: return "VkResult(unknown)";
  }
}

Errc result_errc(VkResult r) noexcept {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
    case VK_ERROR_FRAGMENTATION: return Errc::out_of_memory;
    case VK_ERROR_DEVICE_LOST: return Errc::device_lost;
    default: return Errc::internal;
  }
}

void check(VkResult r, const std::string& what) {
  if (r == VK_SUCCESS) return;
  std::string msg = "vulkan: " + what + " failed with " + result_name(r) + " (" + std::to_string(r) + ")";
  if (r == VK_ERROR_DEVICE_LOST)
    msg += "; the device was lost (driver reset or hang): re-create the process's devices";
  else if (result_errc(r) == Errc::out_of_memory)
    msg += "; free tensors or use smaller shapes";
  throw Error(result_errc(r), msg);
}

}  // namespace porta::vk
