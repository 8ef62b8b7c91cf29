// The VkInstance, shared by every Vulkan device of the process. With validation on
// (PORTA_VULKAN_VALIDATION=1) the Khronos layer is enabled and every warning or error it
// reports is kept; queues turn kept messages into errors so a test cannot pass over them.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/vulkan/vk_common.h"

namespace porta::vk {

class Instance {
 public:
  /// Throws Error(backend_unavailable) when no loader/driver answers or validation was
  /// asked for and the layer is missing.
  explicit Instance(bool validation);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  uint32_t api_version() const { return api_version_; }
  bool validation() const { return messenger_ != VK_NULL_HANDLE; }

  /// Validation messages reported since the last call (thread safe).
  std::vector<std::string> take_messages();
  bool has_messages() const { return pending_.load(std::memory_order_relaxed); }

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT type,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                   void* self);
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  uint32_t api_version_ = VK_API_VERSION_1_1;
  std::mutex mu_;
  std::vector<std::string> messages_;
  std::atomic<bool> pending_{false};
};

}  // namespace porta::vk
