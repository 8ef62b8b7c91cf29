// Queue: transfers, synchronisation, events and the scratch workspace. Op launches live in
// ops_*.cpp.
#include <string>

#include "backends/cuda/cuda_error.h"
#include "backends/cuda/cuda_objects.h"
#include "kernels/cuda/gemm_tiles.h"

// The event poll, host-only: named here so the kernels' alias header (porta_cuda_runtime.h),
// which every kernel includes, stays as it is.
#if defined(PORTA_DIALECT_HIP)
#define pcEventQuery hipEventQuery
#else
#define pcEventQuery cudaEventQuery
#endif

namespace porta::cuda {

CudaEvent::CudaEvent(int ordinal) : ordinal_(ordinal) {
  set_device(ordinal);
  check(static_cast<int>(pcEventCreate(&event_)), "cudaEventCreate");
}

CudaEvent::~CudaEvent() {
  if (event_) {
    set_device(ordinal_);
    (void)pcEventDestroy(event_);
  }
}

void CudaEvent::synchronize() {
  set_device(ordinal_);
  check(static_cast<int>(pcEventSynchronize(event_)), "cudaEventSynchronize");
}

bool CudaEvent::query() {
  set_device(ordinal_);
  const pcError_t st = pcEventQuery(event_);  // cudaSuccess for an event never recorded
  if (st == pcErrorNotReady) {
    // Not an error: if the runtime noted it as the thread's last error, clear it so the next
    // launch check does not see it (and only it: another pending error stays).
    if (pcPeekAtLastError() == pcErrorNotReady) (void)pcGetLastError();
    return false;
  }
  check(static_cast<int>(st), "cudaEventQuery");
  return true;
}

double CudaEvent::elapsed_ms_since(backend::Event& start) {
  set_device(ordinal_);
  float ms = 0;
  check(static_cast<int>(pcEventElapsedTime(&ms, static_cast<CudaEvent&>(start).event_, event_)),
        "cudaEventElapsedTime");
  return ms;
}

CudaQueue::CudaQueue(CudaDevice& dev) : dev_(dev) {
  set_device(dev.ordinal());
  // Blocking (default-flag) stream: it synchronises with the legacy stream that orders
  // allocations and frees (CudaBuffer).
  check(static_cast<int>(pcStreamCreate(&stream_)), "cudaStreamCreate");
}

CudaQueue::~CudaQueue() {
  set_device(dev_.ordinal());
  scratch_.reset();
  (void)pcStreamDestroy(stream_);  // pending work still completes
}

void CudaQueue::upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) {
  if (bytes == 0) return;
  set_device(dev_.ordinal());
  char* d = static_cast<CudaBuffer&>(dst).device_ptr() + offset;
  check(static_cast<int>(pcMemcpyAsync(d, src, static_cast<size_t>(bytes), pcMemcpyHostToDevice, stream_)),
        "cudaMemcpyAsync(host to device, " + std::to_string(bytes) + " bytes)");
  // The caller may reuse `src` on return; pageable copies are only "possibly" staged before
  // cudaMemcpyAsync returns, so wait for this one.
  check(static_cast<int>(pcStreamSynchronize(stream_)), "cudaStreamSynchronize after upload");
}

void CudaQueue::download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) {
  if (bytes == 0) return;
  set_device(dev_.ordinal());
  const char* s = static_cast<const CudaBuffer&>(src).device_ptr() + offset;
  check(static_cast<int>(pcMemcpyAsync(dst, s, static_cast<size_t>(bytes), pcMemcpyDeviceToHost, stream_)),
        "cudaMemcpyAsync(device to host, " + std::to_string(bytes) + " bytes)");
}

void CudaQueue::synchronize() {
  set_device(dev_.ordinal());
  check(static_cast<int>(pcStreamSynchronize(stream_)), "cudaStreamSynchronize");
}

void CudaQueue::record(backend::Event& e) {
  set_device(dev_.ordinal());
  check(static_cast<int>(pcEventRecord(static_cast<CudaEvent&>(e).handle(), stream_)), "cudaEventRecord");
}

void CudaQueue::wait(backend::Event& e) {
  set_device(dev_.ordinal());
  check(static_cast<int>(pcStreamWaitEvent(stream_, static_cast<CudaEvent&>(e).handle(), 0)),
        "cudaStreamWaitEvent");
}

void* CudaQueue::workspace(uint64_t bytes) {
  if (!scratch_ || scratch_->size() < bytes) {
    // The old block is freed on the legacy stream, after the work already enqueued here.
    scratch_.reset();
    scratch_ = std::make_unique<CudaBuffer>(dev_.ordinal(), bytes + bytes / 4, dev_.pooled());
  }
  return scratch_->device_ptr();
}

void CudaQueue::check_launch(int status, const std::string& what) {
  if (status == 0) return;
  if (status == kTileMismatch)  // a planner bug, not a runtime status; nothing was launched
    throw Error(Errc::internal, "kernel launch for " + what +
                                    ": the planned GEMM tile is not one the kernel was compiled with "
                                    "(kernels/cuda/gemm_tiles.h)");
  throw Error(errc_for_status(status), error_message("kernel launch for " + what, status));
}

}  // namespace porta::cuda
