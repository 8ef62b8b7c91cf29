// An in-order command queue (one porta Stream) and its events. Op methods live in one file
// per op family (gemm.cpp, attention.cpp, ...); this header gives them the launch helpers.
// A queue is used by one host thread at a time, so its kernel objects (whose arguments are
// per-object state in OpenCL) and its scratch buffer are private to it.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "backends/opencl/buffer_pool.h"
#include "backends/opencl/device.h"

namespace porta::opencl {

/// A tensor as the kernels take it: buffer, byte offset, and shape/strides padded in front
/// to four dims (leading dims of extent 1, stride 0).
struct View4 {
  cl_mem mem = nullptr;
  cl_long offset = 0;
  cl_long4 shape{};
  cl_long4 stride{};
  DType dtype = DType::f32;
  int64_t dim(int i) const { return shape.s[i]; }
  int64_t st(int i) const { return stride.s[i]; }
};
View4 view4(const backend::TensorArg& t);
cl_mem mem_of(const backend::TensorArg& t);

class ClEvent final : public backend::Event {
 public:
  ~ClEvent() override;
  void synchronize() override;
  bool query() override;
  double elapsed_ms_since(backend::Event& start) override;
  /// Replaces the recorded point (takes ownership of `e`).
  void set(cl_event e);
  cl_event get() const { return ev_; }

 private:
  double end_ns();
  cl_event ev_ = nullptr;
};

/// Sets kernel arguments in order and enqueues. Errors name the op and the kernel.
class Launch {
 public:
  Launch(cl_kernel k, const char* what) : k_(k), what_(what) {}
  template <typename T>
  Launch& arg(const T& v) {
    set(sizeof(T), &v);
    return *this;
  }
  Launch& tensor(const View4& v);  // mem, offset, stride
  /// `local` may be null (driver's choice). Global sizes are rounded up to the local ones.
  void run(cl_command_queue q, cl_uint dims, const size_t* global, const size_t* local);

 private:
  void set(size_t size, const void* value);
  cl_kernel k_;
  const char* what_;
  cl_uint index_ = 0;
};

class ClQueue final : public backend::Queue {
 public:
  explicit ClQueue(ClDevice& dev);
  ~ClQueue() override;

  void upload(backend::Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) override;
  void download(const backend::Buffer& src, uint64_t offset, void* dst, uint64_t bytes) override;
  void synchronize() override;
  void record(backend::Event& e) override;
  void wait(backend::Event& e) override;

  void gemm(const backend::GemmArgs& a) override;
  void attention(const backend::AttentionArgs& a) override;
  void rms_norm(const backend::NormArgs& a) override;
  void layer_norm(const backend::NormArgs& a) override;
  void rope(const backend::RopeArgs& a) override;
  void softmax(const backend::SoftmaxArgs& a) override;
  void elementwise(const backend::ElementwiseArgs& a) override;
  void fill(const backend::FillArgs& a) override;
  void embedding(const backend::EmbeddingArgs& a) override;
  void argmax(const backend::ArgmaxArgs& a) override;
  void kv_cache_write(const backend::KvCacheWriteArgs& a) override;
  void copy_blocks(const backend::CopyBlocksArgs& a) override;
  void paged_attention(const backend::PagedAttentionArgs& a) override;
  void quantize(const backend::QuantizeArgs& a) override;
  void dequantize(const backend::DequantizeArgs& a) override;
  void gemm_quant(const backend::QuantGemmArgs& a) override;
  void embedding_quant(const backend::QuantEmbeddingArgs& a) override;

  ClDevice& device() { return dev_; }
  cl_command_queue handle() const { return q_; }
  /// Kernel `name` of the program built from `file` with `options`; owned by this queue.
  cl_kernel kernel(const std::string& file, const std::string& options, const char* name);
  /// This queue's scratch buffer number `slot` (0..3), at least `bytes` long. In-order execution makes reuse
  /// across ops safe; a grown buffer replaces the old one (released after queued work).
  cl_mem scratch(int slot, uint64_t bytes);
  /// A small read-only table uploaded once per distinct content (rope frequencies).
  cl_mem constant_table(const std::string& key, const void* data, size_t bytes);

 private:
  void norm(const backend::NormArgs& a, bool layer);
  void gemm_small_m(const backend::GemmArgs& a, const std::string& dtypes);
  /// quant.cpp: rows of a quantized weight dequantized into `out` (see quant.cl's qdequant).
  struct DequantTarget;
  void dequant_rows(const backend::QuantWeightArg& w, const DequantTarget& t);
  void gemm_quant_gemv(const backend::QuantGemmArgs& g);
  void gemm_quant_blocked(const backend::QuantGemmArgs& g);
  void gemm_tiled(const backend::GemmArgs& a, const std::string& dtypes, const View4& b,
                  const View4* a_override = nullptr);
  View4 pack_b(const backend::TensorArg& b);
  /// A [batch, rows, cols] operand converted to contiguous f32 in scratch `slot` (a broadcast
  /// batch stays broadcast).
  View4 to_f32(const backend::TensorArg& t, int slot);
  /// Bit-exact copy between two views of the same shape and element size (copy, packing).
  void copy_view(const View4& src, const View4& dst, size_t esize, const char* what);

  ClDevice& dev_;
  cl_command_queue q_ = nullptr;
  std::map<std::pair<cl_program, std::string>, cl_kernel> kernels_;
  // (file, options, name) -> kernels_ entry: a launch skips ProgramCache::get, which assembles
  // and hashes the program's whole source (tens of microseconds a launch on a CPU device).
  std::unordered_map<std::string, cl_kernel> by_request_;
  static constexpr int kScratchSlots = 4;  // 3: quantized gemm's dequantized blocks
  cl_mem scratch_[kScratchSlots] = {};
  uint64_t scratch_bytes_[kScratchSlots] = {};
  std::map<std::string, cl_mem> tables_;
};

/// "-DDT_X=<code>" style defines for a dtype role; codes follow porta::DType.
std::string dtype_define(const char* role, DType t);

/// Work-items for a grid-stride loop over n elements: whole groups of kGroup, capped (each
/// item then loops), so huge tensors need no 2^32 work-items.
constexpr size_t kGroup = 64;
size_t grid_items(int64_t n);
/// The 2-d range of elementwise.cl's row/column kernels over a 4-d shape: dimension 0 walks
/// the last dim, dimension 1 the rows; work-items loop. CPU devices get single-item groups,
/// each owning whole rows (or long contiguous pieces of few rows); GPUs 64-wide groups.
struct RowColRange {
  size_t global[2], local[2];
};
RowColRange row_col_range(const cl_long4& shape, bool cpu);
/// Work-groups for one-group-per-row kernels (each group loops over further rows).
size_t row_groups(int64_t rows);
/// Build options every program gets.
std::string base_options(const ClDevice& d);

/// Work-items rounded up to a multiple of `local`.
inline size_t round_up(size_t n, size_t local) { return (n + local - 1) / local * local; }

}  // namespace porta::opencl
