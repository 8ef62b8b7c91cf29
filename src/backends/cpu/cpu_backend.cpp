// The cpu backend's objects: host buffers, a synchronous queue, events, the device.
// Kernels run on the calling thread plus a shared pool, so "enqueue" means "run now".
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <string>
#include <thread>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/thread_pool.h"

namespace porta::cpu {
namespace {

constexpr uint64_t kAlignment = 64;
constexpr uint64_t kHugePage = uint64_t{2} << 20;

class HostBuffer final : public Buffer {
 public:
  explicit HostBuffer(uint64_t bytes) : Buffer(bytes) {
    // Large tensors (weights, KV caches) get their own 2 MiB-aligned mapping marked for
    // transparent huge pages: streaming kernels then cross a page (miss the TLB, stop the
    // hardware prefetcher) 512x less often. A fresh mapping, not malloc: malloc serves
    // sizes under its (adaptive, up to 32 MiB) mmap threshold from heap pages that are
    // already faulted in as 4 KiB pages, which madvise no longer turns into huge ones.
    if (bytes >= kHugePage && map_huge(bytes)) return;
    const uint64_t padded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    data_ = ::operator new(static_cast<size_t>(padded == 0 ? kAlignment : padded),
                           std::align_val_t(kAlignment), std::nothrow);
    if (data_ == nullptr)
      throw Error(Errc::out_of_memory, "cpu: host allocation of " + std::to_string(bytes) +
                                           " bytes failed; free tensors or reduce the size");
  }
  ~HostBuffer() override {
    if (mapped_bytes_ != 0)
      ::munmap(data_, mapped_bytes_);
    else
      ::operator delete(data_, std::align_val_t(kAlignment));
  }
  void* host_ptr() override { return data_; }

 private:
  // Maps bytes rounded up to 2 MiB at a 2 MiB boundary; false when the kernel refuses
  // (then the malloc path reports the failure).
  bool map_huge(uint64_t bytes) {
    const size_t len = static_cast<size_t>((bytes + kHugePage - 1) / kHugePage * kHugePage);
    const size_t over = len + static_cast<size_t>(kHugePage);
    void* raw = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return false;
    char* const base = static_cast<char*>(raw);
    const size_t lead =
        static_cast<size_t>((kHugePage - reinterpret_cast<uintptr_t>(raw) % kHugePage) % kHugePage);
    if (lead > 0) ::munmap(base, lead);  // trim to the aligned window
    if (over - lead > len) ::munmap(base + lead + len, over - lead - len);
    data_ = base + lead;
    mapped_bytes_ = len;
#if defined(MADV_HUGEPAGE)
    (void)::madvise(data_, len, MADV_HUGEPAGE);
#endif
    return true;
  }

  void* data_ = nullptr;
  size_t mapped_bytes_ = 0;  // non-zero: data_ is an mmap'ed window of this length
};

class HostEvent final : public backend::Event {
 public:
  void synchronize() override {}
  double elapsed_ms_since(backend::Event& start) override {
    auto& s = static_cast<HostEvent&>(start);
    return std::chrono::duration<double, std::milli>(time - s.time).count();
  }
  std::chrono::steady_clock::time_point time = std::chrono::steady_clock::now();
};

class HostQueue final : public Queue {
 public:
  explicit HostQueue(ThreadPool& pool) : pool_(pool) {}

  void upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) override {
    std::memcpy(static_cast<char*>(dst.host_ptr()) + offset, src, static_cast<size_t>(bytes));
  }
  void download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) override {
    std::memcpy(dst, static_cast<const char*>(const_cast<Buffer&>(src).host_ptr()) + offset,
                static_cast<size_t>(bytes));
  }
  void synchronize() override {}
  void record(backend::Event& e) override {
    static_cast<HostEvent&>(e).time = std::chrono::steady_clock::now();
  }
  void wait(backend::Event&) override {}

  void gemm(const GemmArgs& a) override { cpu::gemm(pool_, a); }
  void attention(const AttentionArgs& a) override { cpu::attention(pool_, a); }
  void rms_norm(const NormArgs& a) override { cpu::rms_norm(pool_, a); }
  void layer_norm(const NormArgs& a) override { cpu::layer_norm(pool_, a); }
  void rope(const RopeArgs& a) override { cpu::rope(pool_, a); }
  void softmax(const SoftmaxArgs& a) override { cpu::softmax(pool_, a); }
  void elementwise(const ElementwiseArgs& a) override { cpu::elementwise(pool_, a); }
  void fill(const FillArgs& a) override { cpu::fill(pool_, a); }
  void embedding(const EmbeddingArgs& a) override { cpu::embedding(pool_, a); }
  void argmax(const ArgmaxArgs& a) override { cpu::argmax(pool_, a); }
  void quantize(const QuantizeArgs& a) override { cpu::quant_quantize(pool_, a); }
  void dequantize(const DequantizeArgs& a) override { cpu::quant_dequantize(pool_, a); }
  void gemm_quant(const QuantGemmArgs& a) override { cpu::quant_gemm(pool_, a); }
  void embedding_quant(const QuantEmbeddingArgs& a) override { cpu::quant_embedding(pool_, a); }
  void kv_cache_write(const KvCacheWriteArgs& a) override { cpu::kv_cache_write(pool_, a); }
  void copy_blocks(const CopyBlocksArgs& a) override { cpu::copy_blocks(pool_, a); }
  void paged_attention(const PagedAttentionArgs& a) override { cpu::paged_attention(pool_, a); }

 private:
  ThreadPool& pool_;
};

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = line.substr(colon + 1);
        name.erase(0, name.find_first_not_of(" \t"));
        return name;
      }
    }
  }
  return "host CPU";
}

std::string cpu_vendor() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("vendor_id", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  }
  return "unknown";
}

// Single-precision FLOPs per cycle per core with FMA: 2 FMA pipes x lanes x 2.
int flops_per_cycle() {
#if defined(PORTA_CPU_X86)
  if (__builtin_cpu_supports("avx512f")) return 64;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 32;
  return 16;
#else
  return 16;
#endif
}

double nominal_ghz() {
  std::ifstream in("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0;
  if (in >> khz && khz > 0) return khz / 1e6;
  std::ifstream ci("/proc/cpuinfo");
  std::string line;
  while (std::getline(ci, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return std::stod(line.substr(colon + 1)) / 1e3;
    }
  }
  return 2.0;
}

class CpuDevice final : public porta::backend::Device {
 public:
  CpuDevice(int threads, bool deterministic) : pool_(threads, deterministic) {
    info_.name = cpu_model_name();
    info_.vendor = cpu_vendor();
    info_.driver = "porta cpu backend";
    info_.type = DeviceType::cpu;
    info_.software = true;
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGESIZE);
    info_.memory_bytes =
        pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) : 0;
    info_.max_allocation_bytes = info_.memory_bytes;
    info_.dtypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) | dtype_bit(DType::bf16) |
                   dtype_bit(DType::i8) | dtype_bit(DType::i32);
    info_.compute_units = pool_.size();
#if defined(PORTA_CPU_X86)
    info_.subgroup_size = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4;
#else
    info_.subgroup_size = 4;
#endif
    info_.shared_memory_bytes = 0;
    info_.max_workgroup_size = pool_.size();
    info_.peak_tflops_f32 = pool_.size() * nominal_ghz() * flops_per_cycle() / 1e3;
    info_.peak_tflops_f16 = info_.peak_tflops_f32;  // f16/bf16 are converted to f32 while packing
    info_.peak_gbps = 0;                            // unknown; porta-bench measures it
    info_.peak_source = "nominal (cores x max clock x FMA width); porta-bench measures the real one";
  }

  DeviceInfo& info() override { return info_; }
  std::unique_ptr<Buffer> allocate(uint64_t bytes) override {
    if (info_.memory_bytes != 0 && bytes > info_.memory_bytes)
      throw Error(Errc::out_of_memory, "cpu: cannot allocate " + std::to_string(bytes) +
                                           " bytes, the host has " + std::to_string(info_.memory_bytes) +
                                           " bytes of memory; use smaller tensors");
    return std::make_unique<HostBuffer>(bytes);
  }
  std::unique_ptr<Queue> create_queue() override { return std::make_unique<HostQueue>(pool_); }
  std::unique_ptr<backend::Event> create_event() override { return std::make_unique<HostEvent>(); }
  // Every format, every float dtype.
  bool supports_quant(Op, QuantFormat, DType act) const override { return is_floating(act); }

 private:
  ThreadPool pool_;
  DeviceInfo info_;
};

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  std::vector<std::unique_ptr<porta::backend::Device>> enumerate(const Options& opts) override {
    std::vector<std::unique_ptr<porta::backend::Device>> out;
    const std::string isa = opts.get ? opts.get("cpu", "GEMM_ISA", "auto") : "auto";
    if (!set_gemm_isa_ceiling(isa))
      throw Error(Errc::invalid_argument,
                  "PORTA_CPU_GEMM_ISA='" + isa +
                      "' is not one of auto, avx512bf16, avx512vnni, avx512, avx2, generic");
    if (isa != "auto") log(LogLevel::info, "cpu: GEMM kernels capped at " + isa + " by PORTA_CPU_GEMM_ISA");
    // Logical devices share nothing but the host: each has its own pool so they can run concurrently.
    for (int i = 0; i < std::max(1, opts.cpu_devices); ++i)
      out.push_back(std::make_unique<CpuDevice>(opts.cpu_threads, opts.deterministic));
    return out;
  }
};

Backend* create_cpu_backend() { return new CpuBackend(); }

}  // namespace
}  // namespace porta::cpu

PORTA_DEFINE_BACKEND(cpu, porta::cpu::create_cpu_backend)
