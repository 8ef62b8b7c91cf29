// Compute pipelines, created lazily (once, under a lock) from the embedded SPIR-V with
// specialization constants, and a VkPipelineCache persisted on disk between runs.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/vulkan/vk_common.h"

namespace porta::vk {

/// Every porta shader: bindings 0..n-1 are storage buffers, push constants are at most
/// kPushBytes (the Vulkan minimum of maxPushConstantsSize).
constexpr uint32_t kPushBytes = 128;
constexpr uint32_t kMaxBindings = 6;

struct Pipeline {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  uint32_t bindings = 0;
  std::string name;
};

class PipelineCache {
 public:
  /// `cache_file` empty: no disk cache. `push_descriptors`: set layouts are push layouts.
  PipelineCache(VkDevice dev, bool push_descriptors, std::string cache_file,
                const VkPhysicalDeviceProperties& props);
  ~PipelineCache();
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;

  /// The pipeline for shader `name` with these specialization constants (constant_id i =
  /// spec[i]). Thread safe; the reference stays valid for the cache's lifetime. Throws
  /// Error(internal) naming the shader when the driver rejects it.
  const Pipeline& get(const char* name, uint32_t bindings, const std::vector<uint32_t>& spec);

  /// Writes the driver's cache blob atomically (temp file + rename). Never throws.
  void save();
  /// save() when pipelines were added since the last write and a few seconds have passed:
  /// core never tears devices down at exit, so streams call this when they synchronize.
  void maybe_save();

 private:
  VkDescriptorSetLayout set_layout(uint32_t bindings);
  VkDevice dev_;
  bool push_descriptors_;
  std::string file_;
  VkPhysicalDeviceProperties props_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Pipeline>> pipelines_;
  std::map<uint32_t, std::pair<VkDescriptorSetLayout, VkPipelineLayout>> layouts_;
  std::map<std::string, VkShaderModule> modules_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_save_{};  // epoch: the first maybe_save() writes
};

}  // namespace porta::vk
