// One Vulkan physical device with a compute queue: its logical device, capabilities,
// memory, pipelines, and the bookkeeping that frees memory only once the GPU is done with it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backends/vulkan/instance.h"
#include "backends/vulkan/memory.h"
#include "backends/vulkan/pipelines.h"
#include "backends/vulkan/tuning.h"

namespace porta::vk {

/// Settings from PORTA_VULKAN_* (read once in enumerate()).
struct Settings {
  bool validation = false;
  std::string coopmat = "auto";  // auto | 0 | 1
  std::string cache_dir;         // empty: no pipeline cache on disk
  uint32_t batch_limit = 256;    // dispatches recorded before a submit without waiting
  VkDeviceSize block_mib = 64;   // sub-allocator block size
  bool push_descriptors =
      true;                     // false: descriptor sets from per-batch pools (drivers without the extension)
  bool unified = true;          // false: staged transfers even where memory is host-visible
  std::string tuning = "auto";  // tuning table row (tuning.h)
  uint32_t max_groups = 0;      // > 0: caps every grid dimension (tests reach the chunking paths with it)
};

/// What the driver offers that porta's kernels look at.
struct Caps {
  uint32_t api_version = 0;
  uint32_t subgroup_size = 1;
  bool subgroup_arithmetic = false;
  bool push_descriptors = false;
  bool fp16_arithmetic = false;
  bool int8_arithmetic = false;
  bool storage16 = false;
  bool storage8 = false;
  bool coopmat_nv = false;       // device exposes VK_NV_cooperative_matrix with f16 16x16x16
  bool coopmat_enabled = false;  // ... and the build has the shader and the knob allows it
  uint32_t timestamp_bits = 0;
  float timestamp_period_ns = 1;
  uint32_t max_shared = 16384;
  uint32_t max_invocations = 128;
  uint32_t max_groups[3] = {65535, 65535, 65535};
  uint32_t max_storage_buffers = 4;  // per stage (the serving shaders bind up to 9)
  // Loop back-edges one invocation may take, all its loops together (0: no limit). llvmpipe
  // (lavapipe) ends every loop of an invocation once 65,535 back-edges are spent, silently,
  // so kernels whose trip counts grow with a shape are split (max_trips) or refused there.
  uint32_t loop_limit = 0;
  bool software = false;
};

/// A Buffer handed to core: a sub-allocation, returned to the allocator once every batch
/// recorded before its release has completed.
class VulkanDevice;
class VulkanBuffer final : public Buffer {
 public:
  VulkanBuffer(VulkanDevice& dev, const Allocation& a, uint64_t bytes)
      : Buffer(bytes), dev_(dev), alloc_(a) {}
  ~VulkanBuffer() override;
  const Allocation& allocation() const { return alloc_; }

 private:
  VulkanDevice& dev_;
  Allocation alloc_;
};

class VulkanDevice final : public backend::Device {
 public:
  VulkanDevice(std::shared_ptr<Instance> instance, VkPhysicalDevice pd, uint32_t family, const Settings& s);
  ~VulkanDevice() override;

  DeviceInfo& info() override { return info_; }
  std::unique_ptr<Buffer> allocate(uint64_t bytes) override;
  std::unique_ptr<Queue> create_queue() override;
  std::unique_ptr<backend::Event> create_event() override;
  bool supports(Op op, DType in, DType out) const override;
  bool supports_quant(Op op, QuantFormat f, DType act) const override;
  bool accepts_strided(Op op) const override;

  VkDevice handle() const { return dev_; }
  VkQueue queue() const { return queue_; }
  uint32_t family() const { return family_; }
  std::mutex& submit_mutex() { return submit_mu_; }
  const Caps& caps() const { return caps_; }
  const Settings& settings() const { return settings_; }
  const Tuning& tuning() const { return tuning_; }
  Allocator& allocator() { return *allocator_; }
  PipelineCache& pipelines() { return *pipelines_; }
  Instance& instance() { return *instance_; }
  PFN_vkCmdPushDescriptorSetKHR push_descriptor_fn() const { return push_descriptor_; }

  // Batch bookkeeping (thread safe): every command buffer a queue records gets an id when
  // it is opened and ends when its fence is seen signalled. Memory released while batches
  // are open is freed once all of them have ended.
  uint64_t begin_batch();
  void end_batch(uint64_t id);
  /// Frees `a` now, or once every batch opened before this call has ended.
  void retire(const Allocation& a);
  /// Throws Error(internal) listing validation messages reported since the last check.
  void check_validation(const char* where);

 private:
  void fill_info(VkPhysicalDevice pd);
  void reap_locked();

  std::shared_ptr<Instance> instance_;
  VkPhysicalDevice pd_;
  uint32_t family_;
  Settings settings_;
  Caps caps_;
  Tuning tuning_;
  DeviceInfo info_;
  VkDevice dev_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  std::mutex submit_mu_;
  PFN_vkCmdPushDescriptorSetKHR push_descriptor_ = nullptr;
  std::unique_ptr<Allocator> allocator_;
  std::unique_ptr<PipelineCache> pipelines_;

  std::mutex batch_mu_;
  uint64_t next_batch_ = 1;
  std::set<uint64_t> open_batches_;
  std::vector<std::pair<uint64_t, Allocation>> retired_;
};

/// The VulkanBuffer behind a TensorArg.
inline const Allocation& allocation_of(const Buffer* b) {
  return static_cast<const VulkanBuffer*>(b)->allocation();
}

}  // namespace porta::vk
