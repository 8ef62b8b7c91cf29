// The Vulkan backend's entry point: enumerates every physical device with a compute queue.
#include <cstdlib>
#include <memory>

#include "backends/vulkan/device.h"
#include "backends/vulkan/tuning.h"

namespace porta::vk {
namespace {

uint32_t parse_u32(const std::string& s, uint32_t fallback) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 10);
  return end && *end == '\0' && !s.empty() && v > 0 && v < 1u << 20 ? static_cast<uint32_t>(v) : fallback;
}

class VulkanBackend final : public Backend {
 public:
  const char* name() const override { return "vulkan"; }

  std::vector<std::unique_ptr<backend::Device>> enumerate(const Options& opts) override {
    std::vector<std::unique_ptr<backend::Device>> out;
    Settings s;
    s.validation = opts.get("vulkan", "VALIDATION", "0") == "1";
    s.coopmat = opts.get("vulkan", "COOPMAT", "auto");
    s.cache_dir = opts.get("vulkan", "CACHE_DIR", "");
    s.batch_limit = parse_u32(opts.get("vulkan", "BATCH", "256"), 256);
    s.block_mib = parse_u32(opts.get("vulkan", "BLOCK_MIB", "64"), 64);
    s.push_descriptors = opts.get("vulkan", "PUSH_DESCRIPTORS", "1") != "0";
    s.unified = opts.get("vulkan", "UNIFIED", "1") != "0";
    s.tuning = opts.get("vulkan", "TUNING", "auto");
    s.max_groups = parse_u32(opts.get("vulkan", "MAX_GROUPS", "0"), 0);
    check_tuning_setting(s.tuning);  // rejects an unknown row or a bad item here, once
    if (s.coopmat != "auto" && s.coopmat != "0" && s.coopmat != "1")
      throw Error(Errc::invalid_argument,
                  "vulkan: PORTA_VULKAN_COOPMAT='" + s.coopmat + "' is not one of auto, 0, 1");
    std::shared_ptr<Instance> instance;
    try {
      instance = std::make_shared<Instance>(s.validation);
    } catch (const Error& e) {
      if (s.validation) throw;  // asked for validation: silence would hide it
      notes_.push_back(e.what());
      return out;
    }
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance->handle(), &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(instance->handle(), &n, pds.data());
    if (n == 0) notes_.push_back("vulkan: the loader found no physical device");
    for (VkPhysicalDevice pd : pds) {
      VkPhysicalDeviceProperties props;
      vkGetPhysicalDeviceProperties(pd, &props);
      const std::string label = std::string("vulkan: ") + props.deviceName;
      if (props.apiVersion < VK_API_VERSION_1_1) {
        notes_.push_back(label + " skipped: Vulkan " +
                         std::to_string(VK_API_VERSION_MINOR(props.apiVersion)) +
                         ".x device, porta needs 1.1");
        continue;
      }
      uint32_t nq = 0;
      vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
      std::vector<VkQueueFamilyProperties> qf(nq);
      vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
      uint32_t family = UINT32_MAX;
      for (uint32_t i = 0; i < nq; ++i)  // a compute-only family first, else any with compute
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            (family == UINT32_MAX || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
          family = i;
      if (family == UINT32_MAX) {
        notes_.push_back(label + " skipped: no queue family with compute");
        continue;
      }
      try {
        auto dev = std::make_unique<VulkanDevice>(instance, pd, family, s);
        log(LogLevel::debug, label + ": " + dev->info().driver);
        devices_.push_back(dev.get());
        out.push_back(std::move(dev));
      } catch (const Error& e) {
        notes_.push_back(label + " skipped: " + e.what());
      }
    }
    return out;
  }

  std::vector<std::string> diagnostics() const override { return notes_; }

  // At exit: the pipeline cache (what compiling every pipeline again would cost) goes to disk.
  void shutdown() override {
    for (VulkanDevice* d : devices_) d->pipelines().save();
  }

 private:
  std::vector<std::string> notes_;
  std::vector<VulkanDevice*> devices_;  // core keeps them alive as long as this backend
};

Backend* create() { return new VulkanBackend(); }

}  // namespace
}  // namespace porta::vk

PORTA_DEFINE_BACKEND(vulkan, porta::vk::create)
