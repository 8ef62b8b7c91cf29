// Device memory: a sub-allocator over large VkDeviceMemory blocks, each with one VkBuffer
// over the whole block, so a porta buffer is (block buffer, offset, size) and binding it
// needs no per-tensor Vulkan object. Two pools: device-local memory for tensors and
// host-visible memory for staging. A unified-memory device (its device-local memory is
// host-visible and coherent) maps the tensor pool and never stages.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/vulkan/vk_common.h"

namespace porta::vk {

struct Block;

/// One sub-allocation. `mapped` is the host address of byte 0 when the pool is host-visible.
struct Allocation {
  Block* block = nullptr;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize size = 0;  // rounded up to the allocator's granule
  char* mapped = nullptr;
  explicit operator bool() const { return block != nullptr; }
};

enum class Pool : uint8_t { device, staging };

class Allocator {
 public:
  struct Limits {
    VkDeviceSize max_binding = 0;     // maxStorageBufferRange
    VkDeviceSize max_allocation = 0;  // maxMemoryAllocationSize
    VkDeviceSize alignment = 256;     // storage-buffer offset alignment and granule
    VkDeviceSize block_bytes = 64ull << 20;
    bool allow_unified = true;  // false: stage transfers even on unified memory (tests the GPU path)
  };
  Allocator(VkPhysicalDevice pd, VkDevice dev, const Limits& limits);
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  /// Thread safe. Throws Error(out_of_memory) when the pool is exhausted, Error(invalid_argument)
  /// when one tensor would exceed what a storage binding can address.
  Allocation allocate(Pool pool, VkDeviceSize bytes, const char* what);
  /// Thread safe. The memory must no longer be in use by the device.
  void free(const Allocation& a);

  bool unified() const { return unified_; }
  uint64_t device_local_bytes() const { return device_local_bytes_; }
  const Limits& limits() const { return limits_; }

 private:
  struct PoolState {
    uint32_t memory_type = UINT32_MAX;
    bool host_visible = false;
    std::vector<std::unique_ptr<Block>> blocks;
  };
  Block* new_block(PoolState& p, VkDeviceSize bytes, bool dedicated, const char* what);
  void destroy_block(Block* b);
  PoolState& state(Pool p) { return p == Pool::device || unified_ ? device_ : staging_; }

  VkDevice dev_;
  Limits limits_;
  VkPhysicalDeviceMemoryProperties props_{};
  bool unified_ = false;
  uint64_t device_local_bytes_ = 0;
  uint64_t reserved_ = 0;  // bytes of device-pool blocks
  std::mutex mu_;
  PoolState device_, staging_;
};

/// Sub-allocated free-list block (best fit over free ranges, merged on free).
struct Block {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  char* mapped = nullptr;
  bool dedicated = false;
  std::map<VkDeviceSize, VkDeviceSize> free_ranges;  // offset -> size
  VkDeviceSize used = 0;
};

}  // namespace porta::vk
