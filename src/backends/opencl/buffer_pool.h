// Device buffers from a pool: freed buffers are kept (up to a byte budget) and handed out
// again, so the steady state of an inference loop never calls the driver's allocator.
// A freed buffer may still be read by work queued on any of the device's queues; it is
// fenced with a marker on each of them and reused only once those markers completed.
// On a device that computes out of host memory (a CPU device: PoCL, Intel's CPU runtime),
// the tuning row may ask for porta-owned host memory instead of the driver's: 2 MiB-aligned,
// madvise(MADV_HUGEPAGE)'d anonymous mappings wrapped with CL_MEM_USE_HOST_PTR, so that
// streaming kernels walk transparent huge pages (drivers allocate with malloc, which on a
// host whose THP mode is "madvise" means 4 KiB pages and a TLB miss every 4 KiB).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "backends/opencl/cl_common.h"
#include "core/backend.h"

namespace porta::opencl {

class BufferPool;

/// One tensor allocation. Owned by core; returns its memory to the pool when destroyed.
class ClBuffer final : public backend::Buffer {
 public:
  ClBuffer(uint64_t bytes, cl_mem mem, uint64_t capacity, BufferPool* pool)
      : Buffer(bytes), mem_(mem), capacity_(capacity), pool_(pool) {}
  ~ClBuffer() override;
  cl_mem mem() const { return mem_; }

 private:
  cl_mem mem_;
  uint64_t capacity_;
  BufferPool* pool_;
};

/// Thread safe. Outlives every ClBuffer it made (core guarantees the device outlives buffers).
class BufferPool {
 public:
  /// `keep_bytes`: how much freed memory stays cached for reuse. `huge_host_min`: buffers of
  /// at least this many bytes live in porta-owned huge-page host memory (CL_MEM_USE_HOST_PTR);
  /// 0: every buffer is the driver's. Only for devices with host-unified memory.
  BufferPool(cl_context ctx, uint64_t memory_bytes, uint64_t max_alloc, uint64_t keep_bytes,
             uint64_t huge_host_min = 0);
  ~BufferPool();

  /// A buffer of at least `bytes`; throws Error(out_of_memory) naming `bytes` when the device
  /// cannot provide it (after dropping every cached buffer and retrying once).
  std::unique_ptr<ClBuffer> allocate(uint64_t bytes);
  /// A raw cl_mem of at least `bytes` for backend scratch space (caller releases it).
  cl_mem create_raw(uint64_t bytes);
  void give_back(cl_mem mem, uint64_t capacity);

  /// Queues whose pending work may still use freed buffers.
  void add_queue(cl_command_queue q);
  void remove_queue(cl_command_queue q);

  /// Releases every idle cached buffer.
  void trim();

 private:
  struct Idle {
    cl_mem mem;
    std::vector<cl_event> fences;  // markers after the last work that may use mem
  };
  cl_mem create(uint64_t capacity, cl_int* status);
  cl_mem create_huge_host(uint64_t capacity, cl_int* status);
  static bool fences_done(const std::vector<cl_event>& fences);

  cl_context ctx_;
  uint64_t memory_bytes_, max_alloc_, keep_bytes_, huge_host_min_;
  std::mutex mu_;
  std::multimap<uint64_t, Idle> idle_;  // by capacity
  uint64_t idle_bytes_ = 0;
  std::set<cl_command_queue> queues_;
};

}  // namespace porta::opencl
