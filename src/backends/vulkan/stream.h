// A porta stream on the device's compute queue: dispatches are recorded into a command
// buffer and submitted on synchronize(), record(event), a transfer that must see the
// result, or past Settings::batch_limit dispatches. Barriers go in only where a dispatch
// touches memory an earlier one of the same batch wrote (or reads what it will write).
#pragma once

#include <chrono>
#include <deque>
#include <initializer_list>
#include <memory>
#include <vector>

#include "backends/vulkan/device.h"

namespace porta::vk {

/// One submitted batch; events keep it alive to wait on it.
struct Submission {
  VkDevice dev = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  std::atomic<bool> done{false};
  std::chrono::steady_clock::time_point host_time;  // when submitted (timing fallback)
  ~Submission();
  /// Blocks until the batch has run. Throws device_lost/internal from the driver.
  void wait();
};

/// A storage buffer as one dispatch binds it.
struct BufferRef {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0, range = 0;
  bool write = false;
};
/// The binding for a tensor's whole buffer (the shader adds the tensor's byte offset).
BufferRef ref(const TensorArg& t, bool write);
BufferRef ref(const Allocation& a, bool write);

class VulkanEvent final : public backend::Event {
 public:
  explicit VulkanEvent(VulkanDevice& dev);
  ~VulkanEvent() override;
  void synchronize() override;
  bool query() override;
  double elapsed_ms_since(backend::Event& start) override;

  VulkanDevice& dev;
  VkQueryPool pool = VK_NULL_HANDLE;  // one timestamp; null when the queue has no timestamps
  std::shared_ptr<Submission> submission;
};

class VulkanQueue final : public Queue {
 public:
  explicit VulkanQueue(VulkanDevice& dev);
  ~VulkanQueue() override;

  void upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) override;
  void download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) override;
  void synchronize() override;
  void record(backend::Event& e) override;
  void wait(backend::Event& e) override;

  void gemm(const GemmArgs& a) override;
  void attention(const AttentionArgs& a) override;
  void rms_norm(const NormArgs& a) override;
  void layer_norm(const NormArgs& a) override;
  void rope(const RopeArgs& a) override;
  void softmax(const SoftmaxArgs& a) override;
  void elementwise(const ElementwiseArgs& a) override;
  void fill(const FillArgs& a) override;
  void embedding(const EmbeddingArgs& a) override;
  void argmax(const ArgmaxArgs& a) override;
  void kv_cache_write(const KvCacheWriteArgs& a) override;
  void copy_blocks(const CopyBlocksArgs& a) override;
  void paged_attention(const PagedAttentionArgs& a) override;
  void quantize(const QuantizeArgs& a) override;
  void dequantize(const DequantizeArgs& a) override;
  void gemm_quant(const QuantGemmArgs& a) override;
  void embedding_quant(const QuantEmbeddingArgs& a) override;

  // ---- for the op files ----
  VulkanDevice& device() { return dev_; }
  /// Records one dispatch of `p` with these bindings and push constants (<= kPushBytes).
  void dispatch(const Pipeline& p, std::initializer_list<BufferRef> bufs, const void* push,
                uint32_t push_bytes, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
  /// Device memory valid until the batches recorded so far have run (for split-K partials,
  /// attention partials, small tables). Freed automatically.
  Allocation scratch(VkDeviceSize bytes, const char* what);
  /// Copies host bytes into device memory in stream order (as upload()).
  void upload_to(const Allocation& dst, VkDeviceSize offset, const void* src, VkDeviceSize bytes);

 private:
  struct Batch {
    uint64_t id = 0;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkDescriptorPool pool = VK_NULL_HANDLE;  // without push descriptors only
    std::vector<VkDescriptorPool> full_pools;
    uint32_t commands = 0;
    struct Readback {
      Allocation staging;
      void* dst;
      VkDeviceSize bytes;
    };
    std::vector<Readback> readbacks;
    std::shared_ptr<Submission> submission;
  };
  void open();
  void note_access(std::initializer_list<BufferRef> bufs);
  void barrier();
  /// Submits the open batch (if any); returns its submission.
  std::shared_ptr<Submission> submit();
  /// Waits for every submitted batch and finishes them (read-backs, recycling).
  void drain();
  void finish(Batch& b);
  void poll();
  VkDescriptorSet descriptor_set(const Pipeline& p);
  void begin_op();

  VulkanDevice& dev_;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  std::vector<VkCommandBuffer> free_cbs_;
  std::vector<VkDescriptorPool> free_pools_;
  Batch cur_;
  bool open_ = false;
  std::deque<Batch> in_flight_;
  std::vector<std::shared_ptr<Submission>> waits_;  // events this stream was told to wait for
  struct Access {
    VkBuffer buffer;
    VkDeviceSize begin, end;
    bool write;
  };
  std::vector<Access> since_barrier_;
};

}  // namespace porta::vk
