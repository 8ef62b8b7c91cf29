// Compute pipelines, created lazily (once, under a lock) from the embedded SPIR-V with
// specialization constants, and a VkPipelineCache persisted on disk between runs.
#pragma once

#include <array>
#include <atomic>
#include <initializer_list>
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
constexpr uint32_t kMaxBindings = 9;  // paged_attention.comp binds 9

/// Specialization constants of one pipeline (constant_id i = v[i]), held inline so that
/// looking a pipeline up per dispatch allocates nothing. Built from `{a, b}` or a vector.
struct Spec {
  static constexpr uint32_t kMax = 16;
  uint32_t v[kMax] = {};
  uint32_t n = 0;
  Spec() = default;
  Spec(std::initializer_list<uint32_t> l);
  Spec(const std::vector<uint32_t>& s);  // NOLINT: implicit, as callers pass vectors
  bool operator==(const Spec& o) const;
};

struct Pipeline {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  uint32_t bindings = 0;
  std::string name;  // "shader:spec0:spec1" for messages
  // Lookup key (immutable once published).
  std::string shader;
  Spec spec;
  uint64_t hash = 0;
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
  /// The hit path (every dispatch) is lock-free and allocation-free: a probe of an open-
  /// addressed index of immutable entries; only a miss takes the lock and creates.
  const Pipeline& get(const char* name, uint32_t bindings, const Spec& spec);

  /// Writes the driver's cache blob atomically (temp file + rename) when pipelines were added
  /// since the last write. Never throws. Called by Backend::shutdown at exit.
  void save();

 private:
  VkDescriptorSetLayout set_layout(uint32_t bindings);
  const Pipeline* find(uint64_t hash, const char* name, uint32_t bindings, const Spec& spec) const;
  const Pipeline& create(const char* name, uint32_t bindings, const Spec& spec, uint64_t hash);
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
  static constexpr size_t kSlots = 1024;  // power of two; a full index falls back to the lock
  std::array<std::atomic<const Pipeline*>, kSlots> slots_{};
};

}  // namespace porta::vk
