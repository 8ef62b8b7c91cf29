// Vulkan backend plumbing shared by every file: the VkResult -> porta::Error mapping and the
// tensor-to-binding helpers the op files use.
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "core/backend.h"

namespace porta::vk {

using namespace porta::backend;

/// "VK_ERROR_DEVICE_LOST" for a VkResult.
const char* result_name(VkResult r) noexcept;

/// Errc for a failing VkResult: out_of_memory for the two OOM codes, device_lost for a lost
/// device, internal otherwise.
Errc result_errc(VkResult r) noexcept;

/// Throws porta::Error naming `what` and the VkResult when r is not VK_SUCCESS.
void check(VkResult r, const std::string& what);

}  // namespace porta::vk
