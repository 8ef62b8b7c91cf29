// The skeleton backend: the smallest complete porta backend, for a vendor to copy.
// Asynchronous like a GPU (a worker thread plays the device), host memory as "device"
// memory, one plain reference loop per op (kernels.cpp). See docs/backend-author-guide.md.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "backends/skeleton/device_thread.h"
#include "core/backend.h"

namespace porta::skeleton {

using namespace porta::backend;

/// Device memory. The host cannot address it (host_ptr() stays null, as on a GPU); only
/// tasks on the device thread touch data().
class SkelBuffer final : public Buffer {
 public:
  SkelBuffer(std::shared_ptr<DeviceThread> dev, uint64_t bytes, bool defer_free);
  /// Deferred free: the memory goes back once every task submitted so far ran (queued work
  /// may still read it). With PORTA_SKELETON_FREE=immediate the memory is poisoned and freed
  /// at once, which is only safe because core keeps buffers alive until their uses passed.
  ~SkelBuffer() override;
  unsigned char* data() const { return mem_; }

 private:
  std::shared_ptr<DeviceThread> dev_;
  unsigned char* mem_;
  bool defer_free_;
};

class SkelEvent final : public backend::Event {
 public:
  explicit SkelEvent(std::shared_ptr<DeviceThread> dev) : dev_(std::move(dev)) {}
  void synchronize() override;
  bool query() override;
  double elapsed_ms_since(backend::Event& start) override;

  std::shared_ptr<DeviceThread> dev_;
  std::atomic<uint64_t> seq_{0};  // task that stamps it; 0 = never recorded
  // Written by the device thread's stamp task, read after wait(); shared with that task so
  // the event may be destroyed while the stamp is still queued.
  std::shared_ptr<std::chrono::steady_clock::time_point> stamp_ =
      std::make_shared<std::chrono::steady_clock::time_point>();
};

class SkelQueue final : public Queue {
 public:
  explicit SkelQueue(std::shared_ptr<DeviceThread> dev) : dev_(std::move(dev)) {}
  ~SkelQueue() override;

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

 private:
  void launch(std::function<void()> kernel);
  std::shared_ptr<DeviceThread> dev_;
  uint64_t last_ = 0;  // this queue's last task
};

class SkelDevice final : public backend::Device {
 public:
  SkelDevice(int index, bool defer_free);
  DeviceInfo& info() override { return info_; }
  std::unique_ptr<Buffer> allocate(uint64_t bytes) override;
  std::unique_ptr<Queue> create_queue() override;
  std::unique_ptr<backend::Event> create_event() override;
  bool accepts_strided(Op op) const override;
  bool supports(Op op, DType in, DType out) const override;

  const std::shared_ptr<DeviceThread>& thread() const { return dev_; }

 private:
  DeviceInfo info_;
  std::shared_ptr<DeviceThread> dev_;
  bool defer_free_;
};

// Kernels: plain loops over logical indices (kernels.cpp). Each runs on the device thread.
void k_gemm(const GemmArgs& a);
void k_attention(const AttentionArgs& a);
void k_norm(const NormArgs& a, bool layer);
void k_rope(const RopeArgs& a);
void k_softmax(const SoftmaxArgs& a);
void k_elementwise(const ElementwiseArgs& a);
void k_fill(const FillArgs& a);
void k_embedding(const EmbeddingArgs& a);
void k_argmax(const ArgmaxArgs& a);

}  // namespace porta::skeleton
