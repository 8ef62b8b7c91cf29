// Device buffers from the stream-ordered pool. The pool keeps freed memory (release
// threshold set to "never" at enumeration) so steady-state allocation costs no driver call.
#include <string>

#include "backends/cuda/cuda_error.h"
#include "backends/cuda/cuda_objects.h"

namespace porta::cuda {

CudaBuffer::CudaBuffer(int ordinal, uint64_t bytes, bool pooled)
    : Buffer(bytes), ordinal_(ordinal), pooled_(pooled) {
  set_device(ordinal);
  const size_t n = static_cast<size_t>(bytes == 0 ? 256 : bytes);
  void* p = nullptr;
  pcError_t e = pooled ? pcMallocAsync(&p, n, pcStreamLegacy) : pcMalloc(&p, n);
  if (e == pcErrorMemoryAllocation && pooled) {
    // Freed blocks may still be pending on the legacy stream, or cached in the pool for
    // another size: wait for them, hand cached memory back, and try once more.
    (void)pcGetLastError();
    (void)pcStreamSynchronize(pcStreamLegacy);
    pcMemPool_t pool = nullptr;
    if (pcDeviceGetDefaultMemPool(&pool, ordinal) == pcSuccess) (void)pcMemPoolTrimTo(pool, 0);
    e = pcMallocAsync(&p, n, pcStreamLegacy);
  }
  if (e == pcErrorMemoryAllocation) {
    (void)pcGetLastError();  // not sticky: clear it so the device stays usable
    size_t free_b = 0, total_b = 0;
    (void)pcMemGetInfo(&free_b, &total_b);
    throw Error(Errc::out_of_memory, std::string(PORTA_DIALECT_NAME) + ":" + std::to_string(ordinal) +
                                         ": cannot allocate " + std::to_string(bytes) + " bytes (" +
                                         std::to_string(free_b) + " of " + std::to_string(total_b) +
                                         " bytes free); free tensors or use smaller ones");
  }
  check(static_cast<int>(e), pooled ? "cudaMallocAsync(" + std::to_string(bytes) + " bytes)"
                                    : "cudaMalloc(" + std::to_string(bytes) + " bytes)");
  ptr_ = static_cast<char*>(p);
}

CudaBuffer::~CudaBuffer() {
  if (!ptr_) return;
  set_device(ordinal_);
  const pcError_t e = pooled_ ? pcFreeAsync(ptr_, pcStreamLegacy) : pcFree(ptr_);
  if (e != pcSuccess)  // destructors cannot throw; a lost context reports itself on the next call
    backend::log(backend::LogLevel::warn, std::string(PORTA_DIALECT_NAME) + ": freeing a buffer failed: " +
                                              status_text(static_cast<int>(e)));
}

}  // namespace porta::cuda
