#include "backends/vulkan/stream.h"

#include <cstring>

#include "backends/vulkan/ops.h"

namespace porta::vk {
namespace {

constexpr VkPipelineStageFlags kWorkStages =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
constexpr VkAccessFlags kWrites = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkAccessFlags kAll = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                               VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

void memory_barrier(VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags src_access,
                    VkPipelineStageFlags dst, VkAccessFlags dst_access) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = src_access;
  mb.dstAccessMask = dst_access;
  vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

}  // namespace

Submission::~Submission() {
  if (fence != VK_NULL_HANDLE) vkDestroyFence(dev, fence, nullptr);
}

void Submission::wait() {
  if (done.load()) return;
  check(vkWaitForFences(dev, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (waiting for queued work)");
  done.store(true);
}

BufferRef ref(const Allocation& a, bool write) { return {a.buffer, a.offset, a.size, write}; }
BufferRef ref(const TensorArg& t, bool write) { return ref(allocation_of(t.buffer), write); }

// ---------------------------------------------------------------------------------------
// Events

VulkanEvent::VulkanEvent(VulkanDevice& d) : dev(d) {
  if (dev.caps().timestamp_bits == 0) return;
  VkQueryPoolCreateInfo ci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  ci.queryType = VK_QUERY_TYPE_TIMESTAMP;
  ci.queryCount = 1;
  check(vkCreateQueryPool(dev.handle(), &ci, nullptr, &pool), "vkCreateQueryPool (event timestamps)");
}

VulkanEvent::~VulkanEvent() {
  if (submission) {
    try {
      submission->wait();
    } catch (const Error& e) {
      log(LogLevel::warn, std::string("vulkan: event destroyed with failed work: ") + e.what());
    }
  }
  if (pool != VK_NULL_HANDLE) vkDestroyQueryPool(dev.handle(), pool, nullptr);
}

void VulkanEvent::synchronize() {
  if (submission) submission->wait();
}

bool VulkanEvent::query() {
  if (!submission || submission->done.load()) return true;
  const VkResult r = vkGetFenceStatus(dev.handle(), submission->fence);
  if (r == VK_NOT_READY) return false;
  check(r, "vkGetFenceStatus (event query)");
  return true;
}

double VulkanEvent::elapsed_ms_since(backend::Event& start_base) {
  auto& start = static_cast<VulkanEvent&>(start_base);
  synchronize();
  start.synchronize();
  if (!submission || !start.submission)
    throw Error(Errc::invalid_argument, "vulkan: elapsed time asked of an event that was never recorded");
  if (pool == VK_NULL_HANDLE || start.pool == VK_NULL_HANDLE)
    return std::chrono::duration<double, std::milli>(submission->host_time - start.submission->host_time)
        .count();
  uint64_t t1 = 0, t0 = 0;
  check(vkGetQueryPoolResults(dev.handle(), pool, 0, 1, 8, &t1, 8,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "vkGetQueryPoolResults (event timestamp)");
  check(vkGetQueryPoolResults(dev.handle(), start.pool, 0, 1, 8, &t0, 8,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "vkGetQueryPoolResults (event timestamp)");
  const uint32_t bits = dev.caps().timestamp_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const uint64_t ticks = (t1 - t0) & mask;
  return static_cast<double>(ticks) * dev.caps().timestamp_period_ns / 1e6;
}

// ---------------------------------------------------------------------------------------
// Queue

VulkanQueue::VulkanQueue(VulkanDevice& dev) : dev_(dev) {
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  ci.queueFamilyIndex = dev.family();
  check(vkCreateCommandPool(dev.handle(), &ci, nullptr, &cmd_pool_), "vkCreateCommandPool");
}

VulkanQueue::~VulkanQueue() {
  try {
    submit();
    drain();
  } catch (const Error& e) {
    log(LogLevel::warn, std::string("vulkan: stream destroyed with failed work: ") + e.what());
    vkDeviceWaitIdle(dev_.handle());
    while (!in_flight_.empty()) {
      for (auto& r : in_flight_.front().readbacks) dev_.allocator().free(r.staging);
      dev_.end_batch(in_flight_.front().id);
      in_flight_.pop_front();
    }
  }
  if (open_) dev_.end_batch(cur_.id);
  for (auto p : free_pools_) vkDestroyDescriptorPool(dev_.handle(), p, nullptr);
  if (cur_.pool) vkDestroyDescriptorPool(dev_.handle(), cur_.pool, nullptr);
  for (auto p : cur_.full_pools) vkDestroyDescriptorPool(dev_.handle(), p, nullptr);
  vkDestroyCommandPool(dev_.handle(), cmd_pool_, nullptr);
}

void VulkanQueue::open() {
  if (open_) return;
  poll();
  VkCommandBuffer cb;
  if (!free_cbs_.empty()) {
    cb = free_cbs_.back();
    free_cbs_.pop_back();
  } else {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = cmd_pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(dev_.handle(), &ai, &cb), "vkAllocateCommandBuffers");
  }
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  const VkResult r = vkBeginCommandBuffer(cb, &bi);
  if (r != VK_SUCCESS) {
    free_cbs_.push_back(cb);
    check(r, "vkBeginCommandBuffer");
  }
  cur_ = Batch{};
  cur_.cb = cb;
  cur_.id = dev_.begin_batch();
  open_ = true;
  // Orders this batch after everything submitted before it on the queue, from this stream
  // or from another one whose event we were told to wait for.
  memory_barrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT, kWorkStages, kAll);
  since_barrier_.clear();
}

void VulkanQueue::barrier() {
  memory_barrier(cur_.cb, kWorkStages, kWrites, kWorkStages, kAll);
  since_barrier_.clear();
}

void VulkanQueue::note_access(std::initializer_list<BufferRef> bufs) {
  bool hazard = false;
  for (const BufferRef& b : bufs)
    for (const Access& a : since_barrier_)
      if (a.buffer == b.buffer && a.begin < b.offset + b.range && b.offset < a.end && (a.write || b.write))
        hazard = true;
  if (hazard) barrier();
  for (const BufferRef& b : bufs) since_barrier_.push_back({b.buffer, b.offset, b.offset + b.range, b.write});
}

std::shared_ptr<Submission> VulkanQueue::submit() {
  if (!open_) return nullptr;
  open_ = false;
  // Device writes become visible to the host once the fence signals.
  memory_barrier(cur_.cb, kWorkStages, kWrites, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  auto sub = std::make_shared<Submission>();
  sub->dev = dev_.handle();
  VkResult r = vkEndCommandBuffer(cur_.cb);
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  if (r == VK_SUCCESS) r = vkCreateFence(dev_.handle(), &fi, nullptr, &sub->fence);
  if (r == VK_SUCCESS) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cur_.cb;
    std::lock_guard<std::mutex> lock(dev_.submit_mutex());
    sub->host_time = std::chrono::steady_clock::now();
    r = vkQueueSubmit(dev_.queue(), 1, &si, sub->fence);
  }
  if (r != VK_SUCCESS) {
    // The batch never ran: drop it, give its memory back, and report.
    for (auto& rb : cur_.readbacks) dev_.allocator().free(rb.staging);
    vkResetCommandBuffer(cur_.cb, 0);
    free_cbs_.push_back(cur_.cb);
    dev_.end_batch(cur_.id);
    check(r, "vkQueueSubmit");
  }
  cur_.submission = sub;
  in_flight_.push_back(std::move(cur_));
  cur_ = Batch{};
  dev_.check_validation("vkQueueSubmit");
  return sub;
}

void VulkanQueue::finish(Batch& b) {
  for (auto& rb : b.readbacks) {
    std::memcpy(rb.dst, rb.staging.mapped, static_cast<size_t>(rb.bytes));
    dev_.allocator().free(rb.staging);
  }
  b.readbacks.clear();
  vkResetCommandBuffer(b.cb, 0);
  free_cbs_.push_back(b.cb);
  for (auto p : b.full_pools) {
    vkResetDescriptorPool(dev_.handle(), p, 0);
    free_pools_.push_back(p);
  }
  if (b.pool) {
    vkResetDescriptorPool(dev_.handle(), b.pool, 0);
    free_pools_.push_back(b.pool);
  }
  dev_.end_batch(b.id);
}

void VulkanQueue::poll() {
  while (!in_flight_.empty()) {
    Batch& b = in_flight_.front();
    const VkResult r = vkGetFenceStatus(dev_.handle(), b.submission->fence);
    if (r == VK_NOT_READY) return;
    check(r, "vkGetFenceStatus");
    b.submission->done.store(true);
    finish(b);
    in_flight_.pop_front();
  }
}

void VulkanQueue::drain() {
  while (!in_flight_.empty()) {
    Batch& b = in_flight_.front();
    b.submission->wait();
    finish(b);
    in_flight_.pop_front();
  }
  for (auto& w : waits_) w->wait();
  waits_.clear();
}

void VulkanQueue::begin_op() { dev_.check_validation("an earlier call"); }

VkDescriptorSet VulkanQueue::descriptor_set(const Pipeline& p) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (cur_.pool == VK_NULL_HANDLE) {
      if (!free_pools_.empty()) {
        cur_.pool = free_pools_.back();
        free_pools_.pop_back();
      } else {
        VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 256 * kMaxBindings};
        VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        ci.maxSets = 256;
        ci.poolSizeCount = 1;
        ci.pPoolSizes = &size;
        check(vkCreateDescriptorPool(dev_.handle(), &ci, nullptr, &cur_.pool), "vkCreateDescriptorPool");
      }
    }
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = cur_.pool;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &p.set_layout;
    VkDescriptorSet set;
    const VkResult r = vkAllocateDescriptorSets(dev_.handle(), &ai, &set);
    if (r == VK_SUCCESS) return set;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
      check(r, "vkAllocateDescriptorSets");
    cur_.full_pools.push_back(cur_.pool);
    cur_.pool = VK_NULL_HANDLE;
  }
  throw Error(Errc::internal, "vulkan: could not allocate a descriptor set for " + p.name);
}

void VulkanQueue::dispatch(const Pipeline& p, std::initializer_list<BufferRef> bufs, const void* push,
                           uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (gx == 0 || gy == 0 || gz == 0) return;
  open();
  if (cur_.commands >= dev_.settings().batch_limit) {
    submit();
    open();
  }
  if (bufs.size() > kMaxBindings)
    throw Error(Errc::internal, "vulkan: a dispatch of " + p.name + " binds " + std::to_string(bufs.size()) +
                                    " buffers, more than kMaxBindings");
  note_access(bufs);
  VkDescriptorBufferInfo infos[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  uint32_t n = 0;
  for (const BufferRef& b : bufs) {
    infos[n] = {b.buffer, b.offset, b.range};
    writes[n] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[n].dstBinding = n;
    writes[n].descriptorCount = 1;
    writes[n].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[n].pBufferInfo = &infos[n];
    ++n;
  }
  vkCmdBindPipeline(cur_.cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  if (dev_.caps().push_descriptors) {
    dev_.push_descriptor_fn()(cur_.cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, n, writes);
  } else {
    VkDescriptorSet set = descriptor_set(p);
    for (uint32_t i = 0; i < n; ++i) writes[i].dstSet = set;
    vkUpdateDescriptorSets(dev_.handle(), n, writes, 0, nullptr);
    vkCmdBindDescriptorSets(cur_.cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  }
  if (push_bytes > 0) vkCmdPushConstants(cur_.cb, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vkCmdDispatch(cur_.cb, gx, gy, gz);
  ++cur_.commands;
}

Allocation VulkanQueue::scratch(VkDeviceSize bytes, const char* what) {
  Allocation a = dev_.allocator().allocate(Pool::device, bytes, what);
  open();  // the batch that uses it is open before the release, so the release waits for it
  dev_.retire(a);
  return a;
}

void VulkanQueue::upload_to(const Allocation& dst, VkDeviceSize offset, const void* src, VkDeviceSize bytes) {
  if (bytes == 0) return;
  if (dst.mapped) {
    // Unified memory: write in place once earlier work on this stream (and awaited events)
    // is done, so the bytes land at their point in stream order.
    submit();
    drain();
    std::memcpy(dst.mapped + offset, src, static_cast<size_t>(bytes));
    return;
  }
  Allocation staging = dev_.allocator().allocate(Pool::staging, bytes, "upload staging");
  std::memcpy(staging.mapped, src, static_cast<size_t>(bytes));
  open();
  dev_.retire(staging);
  note_access({BufferRef{dst.buffer, dst.offset + offset, bytes, true}});
  VkBufferCopy region{staging.offset, dst.offset + offset, bytes};
  vkCmdCopyBuffer(cur_.cb, staging.buffer, dst.buffer, 1, &region);
  ++cur_.commands;
}

void VulkanQueue::upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) {
  begin_op();
  upload_to(allocation_of(&dst), offset, src, bytes);
}

void VulkanQueue::download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) {
  begin_op();
  if (bytes == 0) return;
  const Allocation& a = allocation_of(&src);
  if (a.mapped) {
    submit();
    drain();
    std::memcpy(dst, a.mapped + offset, static_cast<size_t>(bytes));
    return;
  }
  Allocation staging = dev_.allocator().allocate(Pool::staging, bytes, "download staging");
  try {
    open();
  } catch (...) {
    dev_.allocator().free(staging);
    throw;
  }
  note_access({BufferRef{a.buffer, a.offset + offset, bytes, false}});
  VkBufferCopy region{a.offset + offset, staging.offset, bytes};
  vkCmdCopyBuffer(cur_.cb, a.buffer, staging.buffer, 1, &region);
  ++cur_.commands;
  cur_.readbacks.push_back({staging, dst, bytes});
}

void VulkanQueue::synchronize() {
  submit();
  drain();
  dev_.check_validation("synchronize");
}

void VulkanQueue::record(backend::Event& e_base) {
  auto& e = static_cast<VulkanEvent&>(e_base);
  begin_op();
  open();
  if (e.pool != VK_NULL_HANDLE) {
    vkCmdResetQueryPool(cur_.cb, e.pool, 0, 1);
    vkCmdWriteTimestamp(cur_.cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, e.pool, 0);
  }
  e.submission = submit();
}

void VulkanQueue::wait(backend::Event& e_base) {
  auto& e = static_cast<VulkanEvent&>(e_base);
  // The event's batch is already submitted to the same VkQueue, and each batch starts with a
  // full barrier, so later work here runs after it. Host-side transfers wait for it too.
  if (e.submission && !e.submission->done.load()) waits_.push_back(e.submission);
}

void VulkanQueue::gemm(const GemmArgs& a) { begin_op(), op_gemm(*this, a); }
void VulkanQueue::attention(const AttentionArgs& a) { begin_op(), op_attention(*this, a); }
void VulkanQueue::rms_norm(const NormArgs& a) { begin_op(), op_norm(*this, a, false); }
void VulkanQueue::layer_norm(const NormArgs& a) { begin_op(), op_norm(*this, a, true); }
void VulkanQueue::rope(const RopeArgs& a) { begin_op(), op_rope(*this, a); }
void VulkanQueue::softmax(const SoftmaxArgs& a) { begin_op(), op_softmax(*this, a); }
void VulkanQueue::elementwise(const ElementwiseArgs& a) { begin_op(), op_elementwise(*this, a); }
void VulkanQueue::fill(const FillArgs& a) { begin_op(), op_fill(*this, a); }
void VulkanQueue::embedding(const EmbeddingArgs& a) { begin_op(), op_embedding(*this, a); }
void VulkanQueue::argmax(const ArgmaxArgs& a) { begin_op(), op_argmax(*this, a); }
void VulkanQueue::kv_cache_write(const KvCacheWriteArgs& a) { begin_op(), op_kv_cache_write(*this, a); }
void VulkanQueue::copy_blocks(const CopyBlocksArgs& a) { begin_op(), op_copy_blocks(*this, a); }
void VulkanQueue::paged_attention(const PagedAttentionArgs& a) { begin_op(), op_paged_attention(*this, a); }
void VulkanQueue::quantize(const QuantizeArgs& a) { begin_op(), op_quantize(*this, a); }
void VulkanQueue::dequantize(const DequantizeArgs& a) { begin_op(), op_dequantize(*this, a); }
void VulkanQueue::gemm_quant(const QuantGemmArgs& a) { begin_op(), op_gemm_quant(*this, a); }
void VulkanQueue::embedding_quant(const QuantEmbeddingArgs& a) { begin_op(), op_embedding_quant(*this, a); }

}  // namespace porta::vk
