#include "backends/vulkan/instance.h"

#include <cstring>

namespace porta::vk {
namespace {

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool has_instance_extension(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

}  // namespace

Instance::Instance(bool validation) {
  uint32_t loader_version = VK_API_VERSION_1_0;
  vkEnumerateInstanceVersion(&loader_version);
  // 1.2 where the loader has it (driver properties, timeline features); 1.1 is the floor.
  api_version_ = loader_version >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1;
  if (loader_version < VK_API_VERSION_1_1)
    throw Error(Errc::backend_unavailable,
                "vulkan: the Vulkan loader is 1.0; porta needs Vulkan 1.1 or later");

  std::vector<const char*> layers, exts;
  if (validation) {
    if (!has_layer(kValidationLayer))
      throw Error(
          Errc::backend_unavailable,
          "vulkan: PORTA_VULKAN_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not installed "
          "(Debian/Ubuntu: vulkan-validationlayers); unset PORTA_VULKAN_VALIDATION to run without it");
    if (!has_instance_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
      throw Error(Errc::backend_unavailable,
                  "vulkan: validation needs VK_EXT_debug_utils, which the loader lacks");
    layers.push_back(kValidationLayer);
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "porta";
  app.pEngineName = "porta";
  app.apiVersion = api_version_;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  const VkResult r = vkCreateInstance(&ci, nullptr, &instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw Error(Errc::backend_unavailable, "vulkan: no Vulkan driver (ICD) is installed");
  check(r, "vkCreateInstance");

  if (validation) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    mi.pfnUserCallback = &Instance::on_message;
    mi.pUserData = this;
    if (create == nullptr || create(instance_, &mi, nullptr, &messenger_) != VK_SUCCESS) {
      vkDestroyInstance(instance_, nullptr);
      throw Error(Errc::backend_unavailable, "vulkan: could not install the validation message callback");
    }
    log(LogLevel::info, "vulkan: Khronos validation layer enabled; every message it reports fails the call");
  }
}

Instance::~Instance() {
  if (messenger_ != VK_NULL_HANDLE) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

VkBool32 Instance::on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                              VkDebugUtilsMessageTypeFlagsEXT,
                              const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
  auto* inst = static_cast<Instance*>(self);
  std::string msg = data && data->pMessage ? data->pMessage : "(no message)";
  log(severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? LogLevel::error : LogLevel::warn,
      "vulkan validation: " + msg);
  std::lock_guard<std::mutex> lock(inst->mu_);
  if (inst->messages_.size() < 16) inst->messages_.push_back(std::move(msg));
  inst->pending_.store(true, std::memory_order_relaxed);
  return VK_FALSE;
}

std::vector<std::string> Instance::take_messages() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.store(false, std::memory_order_relaxed);
  std::vector<std::string> out;
  out.swap(messages_);
  return out;
}

}  // namespace porta::vk
