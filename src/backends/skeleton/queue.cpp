// Queue and Event: every call enqueues a task on the device thread and returns. Op arguments
// are copied into the task (the structs core passes, and what their pointers point to,
// live only for the call); buffers are not: core keeps them alive until the work passed.
#include <cstring>
#include <optional>
#include <vector>

#include "backends/skeleton/skeleton.h"

namespace porta::skeleton {
namespace {
unsigned char* bytes_of(const Buffer& b) { return static_cast<const SkelBuffer&>(b).data(); }
// A task captures device addresses, as a command buffer does: the Buffer objects core passed
// may be gone by the time the task runs (the memory itself is what must stay, see SkelBuffer).
// The address goes into offset, buffer becomes null (kernels.cpp's base() reads it back).
TensorArg bind(TensorArg t) {
  if (t.buffer) {
    t.offset += static_cast<int64_t>(reinterpret_cast<intptr_t>(bytes_of(*t.buffer)));
    t.buffer = nullptr;
  }
  return t;
}
std::optional<TensorArg> copy_of(const TensorArg* t) {
  return t ? std::optional<TensorArg>(bind(*t)) : std::nullopt;
}
const TensorArg* ptr(const std::optional<TensorArg>& t) { return t ? &*t : nullptr; }

// The kernels of ops for which accepts_strided() is false get dense data from core (zero
// strides of broadcast operands aside). Checked, so a core that forgot to stage fails loudly.
void dense(const char* op, const TensorArg& t) {
  int64_t expect = 1;
  for (int d = t.rank - 1; d >= 0; --d) {
    if (t.shape[d] != 1 && t.strides[d] != 0 && t.strides[d] != expect)
      throw Error(Errc::internal, std::string("skeleton: ") + op + " got a strided view (dim " +
                                      std::to_string(d) + " stride " + std::to_string(t.strides[d]) +
                                      "); core must stage it, the device declared accepts_strided = false");
    if (t.strides[d] != 0) expect *= t.shape[d];  // a broadcast dim takes no room
  }
}
}  // namespace

// ---- events: a sequence number on the device thread's timeline

void SkelEvent::synchronize() {
  if (const uint64_t s = seq_.load()) dev_->wait(s);
}

bool SkelEvent::query() {
  const uint64_t s = seq_.load();
  return s == 0 || dev_->done(s);
}

double SkelEvent::elapsed_ms_since(backend::Event& start_base) {
  auto& start = static_cast<SkelEvent&>(start_base);
  synchronize();
  start.synchronize();
  return std::chrono::duration<double, std::milli>(*stamp_ - *start.stamp_).count();
}

// ---- queue

SkelQueue::~SkelQueue() {
  try {
    if (last_) dev_->wait(last_);
  } catch (const Error& e) {
    log(LogLevel::debug, std::string("skeleton: queue destroyed with failed work: ") + e.what());
  }
}

void SkelQueue::launch(std::function<void()> kernel) { last_ = dev_->submit(std::move(kernel), true); }

void SkelQueue::upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) {
  // The caller may reuse src on return: the task owns a copy (a GPU backend stages it too).
  std::vector<unsigned char> copy(static_cast<const unsigned char*>(src),
                                  static_cast<const unsigned char*>(src) + bytes);
  unsigned char* d = bytes_of(dst) + offset;
  launch([d, copy = std::move(copy)] {
    if (!copy.empty()) std::memcpy(d, copy.data(), copy.size());
  });
}

void SkelQueue::download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) {
  const unsigned char* s = bytes_of(src) + offset;
  launch([s, dst, bytes] {
    if (bytes) std::memcpy(dst, s, bytes);
  });
}

void SkelQueue::synchronize() {
  dev_->check_alive();
  if (last_) dev_->wait(last_);
}

void SkelQueue::record(backend::Event& e_base) {
  auto& e = static_cast<SkelEvent&>(e_base);
  last_ = dev_->submit([stamp = e.stamp_] { *stamp = std::chrono::steady_clock::now(); }, false);
  e.seq_.store(last_);
}

void SkelQueue::wait(backend::Event& e) {
  // One device thread runs every queue's tasks in submission order, and core only lets a
  // stream wait for an event already recorded (submitted), so later work here already runs
  // after it. A backend with independent hardware queues inserts a wait on the fence here.
  (void)e;
}

void SkelQueue::gemm(const GemmArgs& a) {
  for (const TensorArg* t : {&a.a, &a.b, &a.c}) dense("gemm", *t);
  GemmArgs b = a;
  b.a = bind(a.a), b.b = bind(a.b), b.c = bind(a.c);
  launch([g = b, bias = copy_of(a.bias)]() mutable {
    g.bias = ptr(bias);
    k_gemm(g);
  });
}
void SkelQueue::attention(const AttentionArgs& a) {
  for (const TensorArg* t : {&a.q, &a.k, &a.v, &a.out}) dense("attention", *t);
  AttentionArgs b = a;
  b.q = bind(a.q), b.k = bind(a.k), b.v = bind(a.v), b.out = bind(a.out);
  launch([g = b, lens = copy_of(a.kv_lens)]() mutable {
    g.kv_lens = ptr(lens);
    k_attention(g);
  });
}
void SkelQueue::rms_norm(const NormArgs& a) {
  dense("rms_norm", a.x), dense("rms_norm", a.out);
  NormArgs b = a;
  b.x = bind(a.x), b.weight = bind(a.weight), b.out = bind(a.out), b.bias = nullptr;
  launch([g = b] { k_norm(g, false); });
}
void SkelQueue::layer_norm(const NormArgs& a) {
  dense("layer_norm", a.x), dense("layer_norm", a.out);
  NormArgs b = a;
  b.x = bind(a.x), b.weight = bind(a.weight), b.out = bind(a.out);
  launch([g = b, bias = copy_of(a.bias)]() mutable {
    g.bias = ptr(bias);
    k_norm(g, true);
  });
}
void SkelQueue::rope(const RopeArgs& a) {
  dense("rope", a.x), dense("rope", a.out);
  RopeArgs b = a;
  b.x = bind(a.x), b.positions = bind(a.positions), b.out = bind(a.out);
  // freq_factors is host memory valid only during this call: the deferred kernel gets a copy.
  std::vector<float> ff;
  if (a.freq_factors) ff.assign(a.freq_factors, a.freq_factors + a.rotary_dim / 2);
  launch([g = b, ff = std::move(ff)]() mutable {
    g.freq_factors = ff.empty() ? nullptr : ff.data();
    k_rope(g);
  });
}
void SkelQueue::softmax(const SoftmaxArgs& a) {
  dense("softmax", a.x), dense("softmax", a.out);
  SoftmaxArgs b = a;
  b.x = bind(a.x), b.out = bind(a.out);
  launch([g = b, mask = copy_of(a.mask)]() mutable {
    g.mask = ptr(mask);
    k_softmax(g);
  });
}
void SkelQueue::elementwise(const ElementwiseArgs& a) {
  if (a.kind != Elementwise::copy)
    for (const TensorArg* t : {&a.a, &a.b, &a.out})
      if (t->buffer) dense("elementwise", *t);
  ElementwiseArgs b = a;
  b.a = bind(a.a), b.b = bind(a.b), b.out = bind(a.out);
  launch([g = b] { k_elementwise(g); });
}
void SkelQueue::fill(const FillArgs& a) {
  FillArgs b = a;
  b.dst = bind(a.dst);
  launch([g = b] { k_fill(g); });
}
void SkelQueue::embedding(const EmbeddingArgs& a) {
  for (const TensorArg* t : {&a.table, &a.ids, &a.out}) dense("embedding", *t);
  EmbeddingArgs b = a;
  b.table = bind(a.table), b.ids = bind(a.ids), b.out = bind(a.out);
  launch([g = b] { k_embedding(g); });
}
void SkelQueue::argmax(const ArgmaxArgs& a) {
  dense("argmax", a.x), dense("argmax", a.out);
  ArgmaxArgs b = a;
  b.x = bind(a.x), b.out = bind(a.out);
  launch([g = b] { k_argmax(g); });
}

}  // namespace porta::skeleton
