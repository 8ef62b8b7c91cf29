// The CUDA backend's objects: device, buffer, queue, event. One header so the op files
// (ops_*.cpp) see the queue; each object is implemented in its own file.
// Thread safety follows backend.h: Device methods from any thread, a Queue from one thread
// at a time. Every method sets the calling thread's current device first.
#pragma once

#include <memory>
#include <string>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/gemm_plan.h"
#include "backends/cuda/tuning.h"
#include "core/backend.h"
#include "kernels/cuda/kernel_args.h"
#include "kernels/cuda/porta_cuda_runtime.h"

namespace porta::cuda {

using backend::Buffer;

/// Settings read once at enumeration (PORTA_CUDA_<KEY>).
struct CudaSettings {
  GemmForce gemm = GemmForce::none;
  AttnForce attn = AttnForce::none;
  bool rows_vector = true;     // PORTA_CUDA_ROWS_PATH: false runs the strided row/element-wise kernels
  bool deterministic = false;  // PORTA_DETERMINISTIC: split counts planned for a fixed SM count
  std::string tuning;          // PORTA_CUDA_TUNING: "auto", a row id, or name=value items (tuning.h)
  std::string tuning_env;      // its variable's name, for errors
};

/// Makes `ordinal` the calling thread's current device (cheap when it already is).
void set_device(int ordinal);

/// A device allocation from the stream-ordered pool (cudaMallocAsync). Allocation and free
/// are ordered on the legacy stream, which every queue's (blocking) stream synchronises
/// with: a buffer dropped while kernels still read it is freed only after they finish.
class CudaBuffer final : public Buffer {
 public:
  CudaBuffer(int ordinal, uint64_t bytes, bool pooled);
  ~CudaBuffer() override;
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  char* device_ptr() const { return ptr_; }

 private:
  int ordinal_;
  bool pooled_;
  char* ptr_ = nullptr;
};

class CudaEvent final : public backend::Event {
 public:
  explicit CudaEvent(int ordinal);
  ~CudaEvent() override;
  void synchronize() override;
  /// cudaEventQuery: never blocks (core polls it to release memory queued work read).
  bool query() override;
  double elapsed_ms_since(backend::Event& start) override;
  pcEvent_t handle() const { return event_; }

 private:
  int ordinal_;
  pcEvent_t event_ = nullptr;
};

class CudaDevice;

/// A blocking stream (ordered with the legacy stream, see CudaBuffer) plus a scratch
/// workspace for split-K and split-KV partials, grown on demand and stream-ordered.
class CudaQueue final : public backend::Queue {
 public:
  explicit CudaQueue(CudaDevice& dev);
  ~CudaQueue() override;
  CudaQueue(const CudaQueue&) = delete;
  CudaQueue& operator=(const CudaQueue&) = delete;

  void upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) override;
  void download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) override;
  void synchronize() override;
  void record(backend::Event& e) override;
  void wait(backend::Event& e) override;

  void gemm(const backend::GemmArgs& a) override;                       // ops_gemm.cpp
  void attention(const backend::AttentionArgs& a) override;             // ops_attention.cpp
  void rms_norm(const backend::NormArgs& a) override;                   // ops_rows.cpp
  void layer_norm(const backend::NormArgs& a) override;                 // ops_rows.cpp
  void rope(const backend::RopeArgs& a) override;                       // ops_rows.cpp
  void softmax(const backend::SoftmaxArgs& a) override;                 // ops_rows.cpp
  void elementwise(const backend::ElementwiseArgs& a) override;         // ops_elementwise.cpp
  void fill(const backend::FillArgs& a) override;                       // ops_elementwise.cpp
  void embedding(const backend::EmbeddingArgs& a) override;             // ops_rows.cpp
  void argmax(const backend::ArgmaxArgs& a) override;                   // ops_rows.cpp
  void quantize(const backend::QuantizeArgs& a) override;               // ops_quant.cpp
  void dequantize(const backend::DequantizeArgs& a) override;           // ops_quant.cpp
  void gemm_quant(const backend::QuantGemmArgs& a) override;            // ops_quant.cpp
  void embedding_quant(const backend::QuantEmbeddingArgs& a) override;  // ops_quant.cpp
  void kv_cache_write(const backend::KvCacheWriteArgs& a) override;     // ops_paged.cpp
  void copy_blocks(const backend::CopyBlocksArgs& a) override;          // ops_paged.cpp
  void paged_attention(const backend::PagedAttentionArgs& a) override;  // ops_paged.cpp
  /// The planned GEMM on a filled descriptor (ops_gemm.cpp; also the quantized M > 16 path).
  void run_gemm(GemmDesc d, const GemmShape& s);

  void* stream() const { return stream_; }
  CudaDevice& device() const { return dev_; }
  /// Scratch of at least `bytes`, valid for work enqueued on this queue until the next call.
  void* workspace(uint64_t bytes);
  /// A second scratch (the quantized gemm's dequantized weight blocks), same rules, so a
  /// split-K workspace request inside the GEMM it feeds does not move it.
  void* quant_scratch(uint64_t bytes);
  /// Checks a launcher's status; `what` names the op and shapes.
  void check_launch(int status, const std::string& what);

 private:
  CudaDevice& dev_;
  pcStream_t stream_ = nullptr;
  std::unique_ptr<CudaBuffer> scratch_;
  std::unique_ptr<CudaBuffer> quant_scratch_;
};

class CudaDevice final : public backend::Device {
 public:
  CudaDevice(int ordinal, const CudaSettings& settings);
  DeviceInfo& info() override { return info_; }
  std::unique_ptr<Buffer> allocate(uint64_t bytes) override;
  std::unique_ptr<backend::Queue> create_queue() override;
  std::unique_ptr<backend::Event> create_event() override;
  bool supports_quant(backend::Op op, QuantFormat f, DType act) const override;  // ops_quant.cpp

  int ordinal() const { return ordinal_; }
  const CudaSettings& settings() const { return settings_; }
  const GemmDeviceFacts& gemm_facts() const { return gemm_facts_; }
  /// The planners' parameters: the tuning table's row for this device (tuning.h).
  const Tuning& tuning() const { return tuning_; }
  int sm_count() const { return info_.compute_units; }
  bool pooled() const { return pooled_; }

 private:
  int ordinal_;
  CudaSettings settings_;
  GemmDeviceFacts gemm_facts_;
  Tuning tuning_;
  bool pooled_ = true;  // cudaMallocAsync available (else cudaMalloc/cudaFree)
  DeviceInfo info_;
};

/// A kernel's view of a tensor: rank 4, device pointer at the view's first element.
TDesc to_desc(const backend::TensorArg& t);

/// `t` restricted to indices [start, start + count) of dim `dim` (0..3): a view for running
/// one call as several launches when a grid dimension would pass its limit.
TDesc slice_desc(TDesc t, int dim, int64_t start, int64_t count);

}  // namespace porta::cuda
