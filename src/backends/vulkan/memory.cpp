#include "backends/vulkan/memory.h"

#include <algorithm>

namespace porta::vk {
namespace {

constexpr VkBufferUsageFlags kUsage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

VkDeviceSize round_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

std::string mib(VkDeviceSize b) { return std::to_string(b >> 20) + " MiB"; }

}  // namespace

Allocator::Allocator(VkPhysicalDevice pd, VkDevice dev, const Limits& limits) : dev_(dev), limits_(limits) {
  vkGetPhysicalDeviceMemoryProperties(pd, &props_);
  // Memory types usable for our buffers.
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = 4096;
  bi.usage = kUsage;
  VkBuffer probe = VK_NULL_HANDLE;
  check(vkCreateBuffer(dev_, &bi, nullptr, &probe), "vkCreateBuffer (memory type probe)");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_, probe, &req);
  vkDestroyBuffer(dev_, probe, nullptr);

  auto pick = [&](VkMemoryPropertyFlags need, VkMemoryPropertyFlags avoid) {
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < props_.memoryTypeCount; ++i) {
      const auto f = props_.memoryTypes[i].propertyFlags;
      if (!(req.memoryTypeBits & (1u << i)) || (f & need) != need || (f & avoid)) continue;
      if (best == UINT32_MAX || props_.memoryHeaps[props_.memoryTypes[i].heapIndex].size >
                                    props_.memoryHeaps[props_.memoryTypes[best].heapIndex].size)
        best = i;
    }
    return best;
  };
  const VkMemoryPropertyFlags host =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const VkMemoryPropertyFlags odd =
      VK_MEMORY_PROPERTY_PROTECTED_BIT | VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT;
  device_.memory_type = pick(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, odd);
  if (device_.memory_type == UINT32_MAX) device_.memory_type = pick(0, odd);
  staging_.memory_type = pick(host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, odd);
  if (staging_.memory_type == UINT32_MAX) staging_.memory_type = pick(host, odd);
  if (device_.memory_type == UINT32_MAX || staging_.memory_type == UINT32_MAX)
    throw Error(Errc::backend_unavailable,
                "vulkan: the device has no memory type usable for storage buffers");

  // Unified memory: device-local and host-visible/coherent memory, and no separate larger
  // device-only heap (a small BAR window on a discrete GPU is not unified memory).
  const uint32_t host_local = pick(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host, odd);
  if (limits_.allow_unified && host_local != UINT32_MAX &&
      props_.memoryTypes[host_local].heapIndex == props_.memoryTypes[device_.memory_type].heapIndex) {
    unified_ = true;
    device_.memory_type = host_local;
  }
  device_.host_visible = unified_;
  staging_.host_visible = true;
  device_local_bytes_ = props_.memoryHeaps[props_.memoryTypes[device_.memory_type].heapIndex].size;
}

Allocator::~Allocator() {
  for (auto* p : {&device_, &staging_})
    for (auto& b : p->blocks) destroy_block(b.get());
}

Block* Allocator::new_block(PoolState& p, VkDeviceSize bytes, bool dedicated, const char* what) {
  // Drivers that back "device memory" with host memory (lavapipe) do not enforce the heap
  // size; porta does, so running past the device's memory is out_of_memory everywhere.
  if (&p == &device_ && reserved_ + bytes > device_local_bytes_)
    throw Error(Errc::out_of_memory, std::string("vulkan: ") + what + " needs " + mib(bytes) +
                                         " more device memory but " + mib(reserved_) + " of the heap's " +
                                         mib(device_local_bytes_) +
                                         " are in use; free tensors or use smaller shapes");
  auto b = std::make_unique<Block>();
  b->size = bytes;
  b->dedicated = dedicated;
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = bytes;
  bi.usage = kUsage;
  VkResult r = vkCreateBuffer(dev_, &bi, nullptr, &b->buffer);
  if (r != VK_SUCCESS) check(r, std::string("vkCreateBuffer for ") + what + " (" + mib(bytes) + ")");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_, b->buffer, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = p.memory_type;
  r = vkAllocateMemory(dev_, &ai, nullptr, &b->memory);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(dev_, b->buffer, nullptr);
    check(r, std::string("vkAllocateMemory of ") + mib(bytes) + " for " + what);
  }
  r = vkBindBufferMemory(dev_, b->buffer, b->memory, 0);
  if (r == VK_SUCCESS && p.host_visible)
    r = vkMapMemory(dev_, b->memory, 0, VK_WHOLE_SIZE, 0, reinterpret_cast<void**>(&b->mapped));
  if (r != VK_SUCCESS) {
    destroy_block(b.get());
    check(r, std::string("binding/mapping memory for ") + what);
  }
  b->free_ranges[0] = bytes;
  if (&p == &device_) reserved_ += bytes;
  p.blocks.push_back(std::move(b));
  return p.blocks.back().get();
}

void Allocator::destroy_block(Block* b) {
  if (b->buffer != VK_NULL_HANDLE) vkDestroyBuffer(dev_, b->buffer, nullptr);
  if (b->memory != VK_NULL_HANDLE) vkFreeMemory(dev_, b->memory, nullptr);
  b->buffer = VK_NULL_HANDLE;
  b->memory = VK_NULL_HANDLE;
}

Allocation Allocator::allocate(Pool pool, VkDeviceSize bytes, const char* what) {
  const VkDeviceSize size = round_up(std::max<VkDeviceSize>(bytes, 4), limits_.alignment);
  if (size > limits_.max_binding || size > limits_.max_allocation)
    throw Error(Errc::out_of_memory,
                std::string("vulkan: ") + what + " of " + std::to_string(bytes) +
                    " bytes exceeds what one storage-buffer binding can address on this device (" +
                    std::to_string(std::min(limits_.max_binding, limits_.max_allocation)) +
                    " bytes, maxStorageBufferRange/maxMemoryAllocationSize); split the tensor");
  std::lock_guard<std::mutex> lock(mu_);
  PoolState& p = state(pool);
  Block* found = nullptr;
  VkDeviceSize at = 0, best = ~VkDeviceSize{0};
  for (auto& b : p.blocks) {
    if (b->dedicated) continue;
    for (auto& [off, len] : b->free_ranges)
      if (len >= size && len < best) found = b.get(), at = off, best = len;
  }
  if (!found) {
    const bool dedicated = size > limits_.block_bytes / 2;
    found = new_block(p, dedicated ? size : limits_.block_bytes, dedicated, what);
    at = 0;
  }
  auto it = found->free_ranges.find(at);
  const VkDeviceSize len = it->second;
  found->free_ranges.erase(it);
  if (len > size) found->free_ranges[at + size] = len - size;
  found->used += size;
  Allocation a;
  a.block = found;
  a.buffer = found->buffer;
  a.offset = at;
  a.size = size;
  a.mapped = found->mapped ? found->mapped + at : nullptr;
  return a;
}

void Allocator::free(const Allocation& a) {
  if (!a) return;
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = a.block;
  b->used -= a.size;
  auto next = b->free_ranges.emplace(a.offset, a.size).first;
  if (next != b->free_ranges.begin()) {  // merge with the range before
    auto prev = std::prev(next);
    if (prev->first + prev->second == next->first) {
      prev->second += next->second;
      b->free_ranges.erase(next);
      next = prev;
    }
  }
  auto after = std::next(next);
  if (after != b->free_ranges.end() && next->first + next->second == after->first) {
    next->second += after->second;
    b->free_ranges.erase(after);
  }
  // Give memory back to the driver when a block empties (dedicated ones always, pooled
  // ones except the last, which stays for the next small tensor).
  for (auto* p : {&device_, &staging_}) {
    auto& v = p->blocks;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].get() != b || b->used != 0) continue;
      size_t pooled = 0;
      for (auto& o : v) pooled += o->dedicated ? 0 : 1;
      if (b->dedicated || pooled > 1) {
        if (p == &device_) reserved_ -= b->size;
        destroy_block(b);
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      }
      return;
    }
  }
}

}  // namespace porta::vk
