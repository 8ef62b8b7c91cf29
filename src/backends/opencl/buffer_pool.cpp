#include "backends/opencl/buffer_pool.h"

#include <algorithm>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace porta::opencl {

namespace {

// Size classes: 256-byte steps for small buffers, then eighths of the power of two below,
// so a reused buffer wastes at most ~12 % and repeated shapes hit the same class.
uint64_t size_class(uint64_t bytes) {
  bytes = std::max<uint64_t>(bytes, 256);
  uint64_t p = 1;
  while (p <= bytes / 2) p <<= 1;
  const uint64_t step = std::max<uint64_t>(256, p / 8);
  return (bytes + step - 1) / step * step;
}

std::string mib(uint64_t b) { return std::to_string(b >> 20) + " MiB"; }

#if defined(__linux__)
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

// A porta-owned host mapping behind a CL_MEM_USE_HOST_PTR buffer; unmapped by the buffer's
// destructor callback, which the driver runs once no queued command uses the buffer.
struct HostMapping {
  void* base;
  size_t len;
};

void CL_CALLBACK unmap_host(cl_mem, void* user) {
  auto* h = static_cast<HostMapping*>(user);
  munmap(h->base, h->len);
  delete h;
}

// `bytes` (rounded up to pages) of anonymous memory starting on a 2 MiB boundary, advised as
// huge pages (every whole 2 MiB of it; the kernel may still fall back to 4 KiB pages when
// it has no free huge page). nullptr when the host has no memory to map.
HostMapping* map_huge(uint64_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t len = (static_cast<size_t>(bytes) + page - 1) / page * page;
  const size_t span = len + kHugePage;  // room to slide to the next 2 MiB boundary
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(raw), base = (lo + kHugePage - 1) & ~(kHugePage - 1);
  if (base > lo) munmap(raw, base - lo);  // the unaligned head
  const uintptr_t end = base + len, raw_end = lo + span;
  if (raw_end > end) munmap(reinterpret_cast<void*>(end), raw_end - end);  // and the tail
  madvise(reinterpret_cast<void*>(base), len, MADV_HUGEPAGE);              // best effort: 4 KiB pages else
  return new HostMapping{reinterpret_cast<void*>(base), len};
}
#endif

}  // namespace

ClBuffer::~ClBuffer() { pool_->give_back(mem_, capacity_); }

BufferPool::BufferPool(cl_context ctx, uint64_t memory_bytes, uint64_t max_alloc, uint64_t keep_bytes,
                       uint64_t huge_host_min)
    : ctx_(ctx),
      memory_bytes_(memory_bytes),
      max_alloc_(max_alloc),
      keep_bytes_(keep_bytes),
      huge_host_min_(huge_host_min) {}

BufferPool::~BufferPool() { trim(); }

cl_mem BufferPool::create(uint64_t capacity, cl_int* status) {
  if (huge_host_min_ > 0 && capacity >= huge_host_min_) {
    if (cl_mem m = create_huge_host(capacity, status)) return m;
    if (*status != CL_SUCCESS) return nullptr;
  }
  return clCreateBuffer(ctx_, CL_MEM_READ_WRITE, static_cast<size_t>(capacity), nullptr, status);
}

// nullptr with *status CL_SUCCESS: this host cannot, use the driver's allocation instead.
cl_mem BufferPool::create_huge_host(uint64_t capacity, cl_int* status) {
  *status = CL_SUCCESS;
#if defined(__linux__)
  HostMapping* h = map_huge(capacity);
  if (!h) {
    *status = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    return nullptr;
  }
  cl_mem m = clCreateBuffer(ctx_, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, static_cast<size_t>(capacity),
                            h->base, status);
  if (*status == CL_SUCCESS && clSetMemObjectDestructorCallback(m, unmap_host, h) == CL_SUCCESS) return m;
  // No buffer, or no way to learn when it dies (nothing was queued on it yet): undo both.
  if (*status == CL_SUCCESS) clReleaseMemObject(m);
  const cl_int st = *status;
  unmap_host(nullptr, h);
  *status = st == CL_OUT_OF_HOST_MEMORY || st == CL_MEM_OBJECT_ALLOCATION_FAILURE ? st : CL_SUCCESS;
  return nullptr;
#else
  (void)capacity;
  return nullptr;
#endif
}

bool BufferPool::fences_done(const std::vector<cl_event>& fences) {
  for (cl_event e : fences) {
    cl_int s = CL_COMPLETE;
    if (clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s, &s, nullptr) != CL_SUCCESS) continue;
    if (s > CL_COMPLETE) return false;  // queued, submitted or running (errors count as done)
  }
  return true;
}

std::unique_ptr<ClBuffer> BufferPool::allocate(uint64_t bytes) {
  const uint64_t cap = size_class(bytes);
  if (cap > max_alloc_ || cap > memory_bytes_)
    throw Error(Errc::out_of_memory, "opencl: cannot allocate " + std::to_string(bytes) +
                                         " bytes: the device allows buffers up to " +
                                         std::to_string(max_alloc_) + " bytes (" + mib(max_alloc_) + ") of " +
                                         mib(memory_bytes_) + "; use smaller tensors");
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Same class first, then up to twice the size.
    for (auto it = idle_.lower_bound(cap); it != idle_.end() && it->first <= cap * 2; ++it) {
      if (!fences_done(it->second.fences)) continue;
      for (cl_event e : it->second.fences) clReleaseEvent(e);
      cl_mem m = it->second.mem;
      const uint64_t c = it->first;
      idle_bytes_ -= c;
      idle_.erase(it);
      return std::make_unique<ClBuffer>(bytes, m, c, this);
    }
  }
  cl_int st = CL_SUCCESS;
  cl_mem m = create(cap, &st);
  if (st != CL_SUCCESS && errc_for(st) == Errc::out_of_memory) {
    trim();  // cached buffers may be what is missing
    m = create(cap, &st);
  }
  if (st != CL_SUCCESS) throw_cl(st, "allocating " + std::to_string(bytes) + " bytes (clCreateBuffer)");
  return std::make_unique<ClBuffer>(bytes, m, cap, this);
}

cl_mem BufferPool::create_raw(uint64_t bytes) {
  cl_int st = CL_SUCCESS;
  cl_mem m = create(std::max<uint64_t>(bytes, 256), &st);
  if (st != CL_SUCCESS && errc_for(st) == Errc::out_of_memory) {
    trim();
    m = create(std::max<uint64_t>(bytes, 256), &st);
  }
  if (st != CL_SUCCESS) throw_cl(st, "allocating " + std::to_string(bytes) + " bytes of scratch space");
  return m;
}

void BufferPool::give_back(cl_mem mem, uint64_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity > keep_bytes_) {  // too big to keep: the driver frees it once queued work is done
    clReleaseMemObject(mem);
    return;
  }
  Idle idle{mem, {}};
  for (cl_command_queue q : queues_) {
    cl_event e = nullptr;
    if (clEnqueueMarkerWithWaitList(q, 0, nullptr, &e) == CL_SUCCESS) idle.fences.push_back(e);
  }
  idle_.emplace(capacity, std::move(idle));
  idle_bytes_ += capacity;
  // Over budget: drop the largest idle buffers (release is deferred by the driver past queued use).
  while (idle_bytes_ > keep_bytes_ && !idle_.empty()) {
    auto last = std::prev(idle_.end());
    for (cl_event e : last->second.fences) clReleaseEvent(e);
    clReleaseMemObject(last->second.mem);
    idle_bytes_ -= last->first;
    idle_.erase(last);
  }
}

void BufferPool::add_queue(cl_command_queue q) {
  std::lock_guard<std::mutex> lock(mu_);
  queues_.insert(q);
}

void BufferPool::remove_queue(cl_command_queue q) {
  std::lock_guard<std::mutex> lock(mu_);
  queues_.erase(q);
}

void BufferPool::trim() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& kv : idle_) {
    for (cl_event e : kv.second.fences) clReleaseEvent(e);
    clReleaseMemObject(kv.second.mem);
  }
  idle_.clear();
  idle_bytes_ = 0;
}

}  // namespace porta::opencl
