#include "backends/opencl/queue.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace porta::opencl {

namespace {

cl_mem buffer_mem(const backend::Buffer& b) { return static_cast<const ClBuffer&>(b).mem(); }

}  // namespace

cl_mem mem_of(const backend::TensorArg& t) { return buffer_mem(*t.buffer); }

View4 view4(const backend::TensorArg& t) {
  View4 v;
  v.mem = mem_of(t);
  v.offset = t.offset;
  v.dtype = t.dtype;
  const int pad = 4 - t.rank;
  for (int i = 0; i < 4; ++i) {
    v.shape.s[i] = i < pad ? 1 : t.shape[i - pad];
    v.stride.s[i] = i < pad ? 0 : t.strides[i - pad];
  }
  return v;
}

std::string dtype_define(const char* role, DType t) {
  return std::string(" -DDT_") + role + "=" + std::to_string(static_cast<int>(t));
}

size_t grid_items(int64_t n) {
  const int64_t cap = int64_t{1} << 20;
  return round_up(static_cast<size_t>(n < cap ? n : cap), kGroup);
}

RowColRange row_col_range(const cl_long4& shape, bool cpu) {
  const int64_t cols = shape.s[3], rows = shape.s[0] * shape.s[1] * shape.s[2];
  RowColRange r;
  if (cpu) {
    r.local[0] = r.local[1] = 1;
    r.global[1] = static_cast<size_t>(std::min<int64_t>(rows, 256));
    const int64_t pieces = std::max<int64_t>(1, 64 / static_cast<int64_t>(r.global[1]));
    r.global[0] = static_cast<size_t>(std::min<int64_t>(pieces, (cols + 4095) / 4096));
    if (cols == 0 || rows == 0) r.global[0] = 0;
    return r;
  }
  size_t l0 = 1;
  while (l0 < kGroup && static_cast<int64_t>(l0) < cols) l0 <<= 1;
  const size_t l1 = kGroup / l0;
  const int64_t g0 = std::min<int64_t>((cols + l0 - 1) / l0, 16);
  const int64_t g1 = std::min<int64_t>((rows + l1 - 1) / l1, std::max<int64_t>(1, 4096 / g0));
  r.local[0] = l0;
  r.local[1] = l1;
  r.global[0] = static_cast<size_t>(g0) * l0;
  r.global[1] = static_cast<size_t>(g1) * l1;
  if (cols == 0 || rows == 0) r.global[0] = 0;
  return r;
}

size_t row_groups(int64_t rows) { return static_cast<size_t>(rows < 65536 ? rows : 65536); }

std::string base_options(const ClDevice& d) {
  return std::string("-cl-std=CL1.2 -DUSE_FMA=") + (d.traits().fast_fma ? "1" : "0") +
         " -DCPU_LAYOUT=" + (d.tuning().cls == DeviceClass::cpu ? "1" : "0");
}

// ---------------------------------------------------------------------------
// Events

ClEvent::~ClEvent() {
  if (ev_) clReleaseEvent(ev_);
}

void ClEvent::set(cl_event e) {
  if (ev_) clReleaseEvent(ev_);
  ev_ = e;
}

void ClEvent::synchronize() {
  if (ev_) check(clWaitForEvents(1, &ev_), "Event::synchronize (clWaitForEvents)");
}

bool ClEvent::query() {
  if (!ev_) return true;
  cl_int status = CL_COMPLETE;
  check(clGetEventInfo(ev_, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr),
        "Event::query (clGetEventInfo)");
  if (status < 0) check(status, "Event::query (the recorded work failed)");
  return status == CL_COMPLETE;
}

double ClEvent::end_ns() {
  synchronize();
  cl_ulong t = 0;
  check(clGetEventProfilingInfo(ev_, CL_PROFILING_COMMAND_END, sizeof t, &t, nullptr),
        "Event::elapsed_ms_since (clGetEventProfilingInfo)");
  return static_cast<double>(t);
}

double ClEvent::elapsed_ms_since(backend::Event& start) {
  auto& s = static_cast<ClEvent&>(start);
  if (!ev_ || !s.ev_)
    throw Error(Errc::invalid_argument, "opencl: Event::elapsed_ms_since needs two recorded events");
  return (end_ns() - s.end_ns()) / 1e6;
}

// ---------------------------------------------------------------------------
// Launch

void Launch::set(size_t size, const void* value) {
  const cl_int st = clSetKernelArg(k_, index_, size, value);
  if (st != CL_SUCCESS)
    throw_cl(st, std::string(what_) + ": setting kernel argument " + std::to_string(index_));
  ++index_;
}

Launch& Launch::tensor(const View4& v) {
  arg(v.mem);
  arg(v.offset);
  arg(v.stride);
  return *this;
}

void Launch::run(cl_command_queue q, cl_uint dims, const size_t* global, const size_t* local) {
  size_t g[3] = {1, 1, 1};
  for (cl_uint i = 0; i < dims; ++i) {
    if (global[i] == 0) return;  // empty problem
    g[i] = local ? round_up(global[i], local[i]) : global[i];
  }
  const cl_int st = clEnqueueNDRangeKernel(q, k_, dims, nullptr, g, local, 0, nullptr, nullptr);
  if (st != CL_SUCCESS) throw_cl(st, std::string(what_) + ": launching the kernel (clEnqueueNDRangeKernel)");
}

// ---------------------------------------------------------------------------
// Queue

ClQueue::ClQueue(ClDevice& dev) : dev_(dev) {
  cl_int st = CL_SUCCESS;
  q_ = clCreateCommandQueue(dev.context(), dev.id(), CL_QUEUE_PROFILING_ENABLE, &st);
  check(st, "creating a stream (clCreateCommandQueue)");
  dev_.pool().add_queue(q_);
}

ClQueue::~ClQueue() {
  dev_.pool().remove_queue(q_);
  clFinish(q_);  // buffers freed after this may be reused at once
  for (auto& kv : kernels_) clReleaseKernel(kv.second);
  for (auto& kv : tables_) clReleaseMemObject(kv.second);
  for (cl_mem m : scratch_)
    if (m) clReleaseMemObject(m);
  clReleaseCommandQueue(q_);
}

cl_kernel ClQueue::kernel(const std::string& file, const std::string& options, const char* name) {
  std::string request = file;
  request.append(1, '\0').append(options).append(1, '\0').append(name);
  auto seen = by_request_.find(request);
  if (seen != by_request_.end()) return seen->second;
  cl_program prog = dev_.programs().get(file, options);
  auto key = std::make_pair(prog, std::string(name));
  auto it = kernels_.find(key);
  if (it == kernels_.end()) {
    cl_int st = CL_SUCCESS;
    cl_kernel k = clCreateKernel(prog, name, &st);
    check(st, ("creating kernel '" + std::string(name) + "' of " + file + ".cl").c_str());
    it = kernels_.emplace(key, k).first;
  }
  by_request_.emplace(std::move(request), it->second);
  return it->second;
}

cl_mem ClQueue::scratch(int slot, uint64_t bytes) {
  if (scratch_bytes_[slot] >= bytes && scratch_[slot]) return scratch_[slot];
  if (scratch_[slot]) clReleaseMemObject(scratch_[slot]);  // freed by the driver after queued use
  scratch_[slot] = nullptr;
  scratch_bytes_[slot] = 0;
  const uint64_t want = bytes + bytes / 4;
  scratch_[slot] = dev_.pool().create_raw(want);
  scratch_bytes_[slot] = want;
  return scratch_[slot];
}

cl_mem ClQueue::constant_table(const std::string& key, const void* data, size_t bytes) {
  const std::string full = key + std::string(static_cast<const char*>(data), bytes);
  auto it = tables_.find(full);
  if (it != tables_.end()) return it->second;
  if (tables_.size() > 64) {  // engines use a handful; bound it anyway
    for (auto& kv : tables_) clReleaseMemObject(kv.second);
    tables_.clear();
  }
  cl_int st = CL_SUCCESS;
  cl_mem m = clCreateBuffer(dev_.context(), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes,
                            const_cast<void*>(data), &st);
  check(st, "uploading a constant table (clCreateBuffer)");
  tables_.emplace(full, m);
  return m;
}

void ClQueue::upload(backend::Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) {
  if (bytes == 0) return;
  // Blocking: the caller may reuse `src` as soon as this returns.
  check(clEnqueueWriteBuffer(q_, buffer_mem(dst), CL_TRUE, offset, bytes, src, 0, nullptr, nullptr),
        "upload (clEnqueueWriteBuffer)");
}

void ClQueue::download(const backend::Buffer& src, uint64_t offset, void* dst, uint64_t bytes) {
  if (bytes == 0) return;
  check(clEnqueueReadBuffer(q_, buffer_mem(src), CL_FALSE, offset, bytes, dst, 0, nullptr, nullptr),
        "download (clEnqueueReadBuffer)");
}

void ClQueue::synchronize() { check(clFinish(q_), "Stream::synchronize (clFinish)"); }

void ClQueue::record(backend::Event& e) {
  cl_event ev = nullptr;
  check(clEnqueueMarkerWithWaitList(q_, 0, nullptr, &ev), "Event::record (clEnqueueMarkerWithWaitList)");
  static_cast<ClEvent&>(e).set(ev);
}

void ClQueue::wait(backend::Event& e) {
  cl_event ev = static_cast<ClEvent&>(e).get();
  if (!ev) return;  // never recorded: nothing to wait for
  check(clEnqueueBarrierWithWaitList(q_, 1, &ev, nullptr), "Stream::wait (clEnqueueBarrierWithWaitList)");
}

}  // namespace porta::opencl
