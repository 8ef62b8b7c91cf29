// porta::Communicator's collectives: validation, then either native device pointers on
// the stream's native stream (device transports) or host memory (host transports: the
// stream is synchronized, host-addressable buffers are used in place, others are staged
// through host memory in PORTA_COMM_CHUNK_KIB chunks).
#include <algorithm>
#include <cstring>
#include <functional>
#include <initializer_list>

#include "core/comm_impl.h"
#include "core/impl.h"
#include "core/options.h"
#include "porta/comm.h"
#include "porta/stream.h"

namespace porta {
namespace {

using comm::Kind;
using detail::CommImpl;

const char* op_label(Kind k) {
  switch (k) {
    case Kind::all_reduce: return "Communicator::all_reduce";
    case Kind::all_gather: return "Communicator::all_gather";
    case Kind::reduce_scatter: return "Communicator::reduce_scatter";
    case Kind::broadcast: return "Communicator::broadcast";
    case Kind::send: return "Communicator::send";
    case Kind::recv: return "Communicator::recv";
  }
  return "Communicator";
}

CommImpl& need(Communicator& c, const char* what) {
  if (!c.impl())
    throw Error(Errc::invalid_argument,
                std::string(what) + ": the communicator handle is empty; create one with Communicator::from_mpi");
  return *c.impl();
}

void check_tensor(const CommImpl& c, const char* what, const char* role, const Tensor& t) {
  if (!t.defined())
    throw Error(Errc::invalid_argument, std::string(what) + ": " + role + " is an empty tensor handle");
  if (t.device() != c.device)
    throw Error(Errc::device_mismatch, std::string(what) + ": " + role + " " + t.str() + " lives on " +
                                           t.device().description() + ", the communicator on " +
                                           c.device.description() + "; copy it to that device first");
  if (!t.is_contiguous())
    throw Error(Errc::invalid_argument, std::string(what) + ": " + role + " " + t.str() +
                                            " is not contiguous; ops::copy it into a contiguous tensor first");
}

void check_reducible(const char* what, DType t) {
  if (t != DType::f32 && t != DType::f16 && t != DType::bf16 && t != DType::i32)
    throw Error(Errc::dtype_mismatch, std::string(what) + ": cannot reduce " + dtype_name(t) +
                                          "; reductions take f32, f16, bf16 or i32");
}

void check_same_dtype(const char* what, const Tensor& in, const Tensor& out) {
  if (in.dtype() != out.dtype())
    throw Error(Errc::dtype_mismatch, std::string(what) + ": in is " + in.str() + ", out is " + out.str() +
                                          "; both must have one dtype (ops::cast first)");
}

void check_stream(const CommImpl& c, const char* what, const Stream& s) {
  if (s.device() != c.device)
    throw Error(Errc::device_mismatch, std::string(what) + ": the stream belongs to " + s.device().description() +
                                           ", the communicator to " + c.device.description());
}

// Byte range [begin, end) of a contiguous tensor within its buffer.
struct Range {
  const void* buffer;
  int64_t begin, end;
};
Range range_of(const Tensor& t) { return {t.buffer(), t.offset_bytes(), t.offset_bytes() + t.nbytes()}; }
bool overlap(const Range& a, const Range& b) { return a.buffer == b.buffer && a.begin < b.end && b.begin < a.end; }
bool same(const Range& a, const Range& b) { return a.buffer == b.buffer && a.begin == b.begin && a.end == b.end; }

void check_rank(const CommImpl& c, const char* what, const char* role, int r, bool allow_self) {
  const int n = c.comm->size();
  if (r < 0 || r >= n || (!allow_self && r == c.comm->rank()))
    throw Error(Errc::invalid_argument, std::string(what) + ": " + role + " " + std::to_string(r) +
                                            " is not a rank of this communicator (size " + std::to_string(n) +
                                            (allow_self ? ")" : ", and not this rank)"));
}

// ---- execution ----

char* host_address(const Tensor& t) {
  void* base = t.buffer()->get().host_ptr();
  return base ? static_cast<char*>(base) + t.offset_bytes() : nullptr;
}

void* device_address(CommImpl& c, const char* what, const Tensor& t) {
  void* base = t.buffer()->get().native_ptr();
  if (!base)
    throw Error(Errc::unsupported, std::string(what) + ": " + c.device.description() +
                                       " gives no native device pointer; the " + c.transport->name() +
                                       " transport needs one (use the mpi transport)");
  return static_cast<char*>(base) + t.offset_bytes();
}

void* native_stream(CommImpl& c, const char* what, Stream& s) {
  void* ns = s.impl()->queue->native_stream();
  if (!ns)
    throw Error(Errc::unsupported, std::string(what) + ": " + c.device.description() +
                                       " gives no native stream for the " + c.transport->name() + " transport");
  return ns;
}

void sync(Stream& s, const char* what) {
  const uint64_t upto = s.impl()->submitted();
  s.device().impl()->call(what, [&] { s.impl()->queue->synchronize(); });
  s.impl()->completed(upto);
}

// Core's lifetime rule: the tensors of this call are in use by the stream's next submission
// (device transports enqueue and return; their buffers must outlive the queued work).
void mark(Stream& s, std::initializer_list<const Tensor*> tensors) {
  const uint64_t seq = s.impl()->begin_submission();
  for (const Tensor* t : tensors)
    if (t && t->defined()) t->buffer()->mark_use(s.impl()->id, seq);
}
void download(Stream& s, const char* what, const Tensor& t, int64_t offset, void* dst, int64_t bytes) {
  s.device().impl()->call(what, [&] {
    s.impl()->queue->download(t.buffer()->get(), static_cast<uint64_t>(t.offset_bytes() + offset), dst,
                              static_cast<uint64_t>(bytes));
  });
}
void upload(Stream& s, const char* what, const Tensor& t, int64_t offset, const void* src, int64_t bytes) {
  s.device().impl()->call(what, [&] {
    s.impl()->queue->upload(t.buffer()->get(), static_cast<uint64_t>(t.offset_bytes() + offset), src,
                            static_cast<uint64_t>(bytes));
  });
}

char* grow(std::vector<char>& v, int64_t bytes) {
  if (v.size() < static_cast<size_t>(bytes)) v.resize(static_cast<size_t>(bytes));
  return v.data();
}

// Device-memory transports: the signatures travel as a small i32 tensor through the
// transport's own all_gather (send/recv pairs are not checked there).
void check_on_device(CommImpl& c, Stream& s, const comm::Signature& sig) {
  const char* what = op_label(sig.kind);
  if (sig.kind == Kind::send || sig.kind == Kind::recv) return;
  const int n = c.comm->size();
  constexpr int kWords = 6;
  const int32_t mine[kWords] = {static_cast<int32_t>(sig.kind), static_cast<int32_t>(sig.dtype),
                                static_cast<int32_t>(sig.op), sig.root, static_cast<int32_t>(sig.count & 0xffffffffu),
                                static_cast<int32_t>(sig.count >> 32)};
  Tensor in = Tensor::from_host(s, DType::i32, {kWords}, mine);
  Tensor all = Tensor::empty(c.device, DType::i32, {kWords * static_cast<int64_t>(n)});
  void* ns = native_stream(c, what, s);
  c.guarded(what, [&] { c.comm->all_gather(device_address(c, what, in), device_address(c, what, all), kWords,
                                           DType::i32, ns); });
  std::vector<int32_t> host(static_cast<size_t>(kWords * n));
  all.copy_to_host(s, host.data());
  auto decode = [&](int r) {
    const int32_t* w = host.data() + static_cast<ptrdiff_t>(r) * kWords;
    comm::Signature x;
    x.kind = static_cast<Kind>(w[0]);
    x.dtype = static_cast<uint32_t>(w[1]);
    x.op = static_cast<uint32_t>(w[2]);
    x.root = w[3];
    x.count = static_cast<uint32_t>(w[4]) | (static_cast<uint64_t>(static_cast<uint32_t>(w[5])) << 32);
    return x;
  };
  for (int r = 1; r < n; ++r) {
    if (std::memcmp(host.data(), host.data() + static_cast<ptrdiff_t>(r) * kWords, sizeof mine) == 0) continue;
    const comm::Signature a = decode(0), b = decode(r);
    throw Error(a.dtype != b.dtype ? Errc::dtype_mismatch : Errc::shape_mismatch,
                std::string(what) + ": PORTA_COMM_CHECK: rank 0 called " + a.str() + " but rank " + std::to_string(r) +
                    " called " + b.str() + "; every rank must make the same call");
  }
}

void run_check(CommImpl& c, Stream& s, const comm::Signature& sig) {
  if (!detail::env_options().comm.check) return;
  if (!c.transport->host_memory()) return check_on_device(c, s, sig);
  c.guarded(op_label(sig.kind), [&] { c.comm->check(sig, nullptr); });
}

using Fn = std::function<void(const void* in, void* out, size_t count, void* stream)>;

// all_reduce and broadcast: element-wise, so host transports run them chunk by chunk. The
// chunks depend only on the element count and PORTA_COMM_CHUNK_KIB (which must be the same on
// every rank), never on where the memory is, so ranks on different devices still pair up.
void run_elementwise(CommImpl& c, Stream& s, const char* what, const Tensor& in, const Tensor& out, bool reads_in,
                     const Fn& fn) {
  const size_t n = static_cast<size_t>(out.numel());
  mark(s, {reads_in ? &in : nullptr, &out});
  if (!c.transport->host_memory()) {
    void* ns = native_stream(c, what, s);
    const void* src = reads_in ? device_address(c, what, in) : nullptr;
    void* dst = device_address(c, what, out);
    c.guarded(what, [&] { fn(src, dst, n, ns); });
    return;
  }
  sync(s, what);
  const char* hin = reads_in ? host_address(in) : nullptr;
  char* hout = host_address(out);
  const int64_t esize = static_cast<int64_t>(dtype_size(out.dtype()));
  const int64_t per = std::max<int64_t>(1, static_cast<int64_t>(detail::env_options().comm.chunk_bytes) / esize);
  for (int64_t first = 0; first < static_cast<int64_t>(n); first += per) {
    const int64_t count = std::min<int64_t>(per, static_cast<int64_t>(n) - first);
    const int64_t off = first * esize, bytes = count * esize;
    const char* src = nullptr;
    if (reads_in) {
      if (hin) {
        src = hin + off;
      } else {
        char* stage = grow(c.stage_in, bytes);
        download(s, what, in, off, stage, bytes);
        sync(s, what);
        src = stage;
      }
    }
    char* dst = hout ? hout + off : grow(c.stage_out, bytes);
    c.guarded(what, [&] { fn(src, dst, static_cast<size_t>(count), nullptr); });
    if (!hout) {
      upload(s, what, out, off, dst, bytes);
      sync(s, what);  // the stage is reused by the next chunk
    }
  }
}

// all_gather, reduce_scatter, send, recv: whole tensors (host transports stage them whole).
// in_slot: where `in` sits inside the staged `out` for in-place all_gather (-1: separate).
void run_whole(CommImpl& c, Stream& s, const char* what, const Tensor* in, const Tensor* out, const Fn& fn,
               int64_t count) {
  mark(s, {in, out});
  if (!c.transport->host_memory()) {
    void* ns = native_stream(c, what, s);
    const void* src = in ? device_address(c, what, *in) : nullptr;
    void* dst = out ? device_address(c, what, *out) : nullptr;
    c.guarded(what, [&] { fn(src, dst, static_cast<size_t>(count), ns); });
    return;
  }
  sync(s, what);
  const char* src = nullptr;
  if (in) {
    src = host_address(*in);
    if (!src) {
      char* stage = grow(c.stage_in, in->nbytes());
      download(s, what, *in, 0, stage, in->nbytes());
      sync(s, what);
      src = stage;
    }
  }
  char* hout = out ? host_address(*out) : nullptr;
  char* dst = out && !hout ? grow(c.stage_out, out->nbytes()) : hout;
  c.guarded(what, [&] { fn(src, dst, static_cast<size_t>(count), nullptr); });
  if (out && !hout) {
    upload(s, what, *out, 0, dst, out->nbytes());
    sync(s, what);
  }
}

comm::Signature signature(Kind k, DType t, uint32_t op, int root, int64_t count) {
  comm::Signature sig;
  sig.kind = k;
  sig.dtype = static_cast<uint32_t>(t);
  sig.op = op;
  sig.root = root;
  sig.count = static_cast<uint64_t>(count);
  return sig;
}

}  // namespace

void Communicator::all_reduce(Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op) {
  const char* what = op_label(Kind::all_reduce);
  CommImpl& c = need(*this, what);
  std::lock_guard<std::mutex> lock(c.mu);
  c.check_usable(what);
  check_stream(c, what, stream);
  check_tensor(c, what, "in", in);
  check_tensor(c, what, "out", out);
  check_same_dtype(what, in, out);
  check_reducible(what, in.dtype());
  if (in.numel() != out.numel())
    throw Error(Errc::shape_mismatch, std::string(what) + ": in " + in.str() + " and out " + out.str() +
                                          " differ in element count; out has in's shape");
  if (overlap(range_of(in), range_of(out)) && !same(range_of(in), range_of(out)))
    throw Error(Errc::invalid_argument, std::string(what) + ": in " + in.str() + " and out " + out.str() +
                                            " overlap partially; pass the same tensor for in place");
  run_check(c, stream, signature(Kind::all_reduce, in.dtype(), static_cast<uint32_t>(op), -1, in.numel()));
  const DType t = in.dtype();
  run_elementwise(c, stream, what, in, out, true, [&](const void* a, void* b, size_t n, void* ns) {
    c.comm->all_reduce(a, b, n, t, op, ns);
  });
}

void Communicator::broadcast(Stream& stream, const Tensor& in, const Tensor& out, int root) {
  const char* what = op_label(Kind::broadcast);
  CommImpl& c = need(*this, what);
  std::lock_guard<std::mutex> lock(c.mu);
  c.check_usable(what);
  check_stream(c, what, stream);
  check_rank(c, what, "root", root, true);
  check_tensor(c, what, "out", out);
  const bool is_root = c.comm->rank() == root;
  if (is_root) {
    check_tensor(c, what, "in", in);
    check_same_dtype(what, in, out);
    if (in.numel() != out.numel())
      throw Error(Errc::shape_mismatch, std::string(what) + ": in " + in.str() + " and out " + out.str() +
                                            " differ in element count");
    if (overlap(range_of(in), range_of(out)) && !same(range_of(in), range_of(out)))
      throw Error(Errc::invalid_argument, std::string(what) + ": in and out overlap partially");
  }
  run_check(c, stream, signature(Kind::broadcast, out.dtype(), 0, root, out.numel()));
  const DType t = out.dtype();
  run_elementwise(c, stream, what, in, out, is_root, [&](const void* a, void* b, size_t n, void* ns) {
    c.comm->broadcast(a, b, n, t, root, ns);
  });
}

void Communicator::all_gather(Stream& stream, const Tensor& in, const Tensor& out) {
  const char* what = op_label(Kind::all_gather);
  CommImpl& c = need(*this, what);
  std::lock_guard<std::mutex> lock(c.mu);
  c.check_usable(what);
  check_stream(c, what, stream);
  check_tensor(c, what, "in", in);
  check_tensor(c, what, "out", out);
  check_same_dtype(what, in, out);
  const int n = c.comm->size(), r = c.comm->rank();
  if (out.numel() != in.numel() * n)
    throw Error(Errc::shape_mismatch, std::string(what) + ": out " + out.str() + " must hold size (" +
                                          std::to_string(n) + ") x in " + in.str() + " elements");
  const Range ri = range_of(in), ro = range_of(out);
  if (overlap(ri, ro) && !(ri.buffer == ro.buffer && ri.begin == ro.begin + r * in.nbytes()))
    throw Error(Errc::invalid_argument, std::string(what) + ": in overlaps out but is not rank " +
                                            std::to_string(r) + "'s slice of it (the in-place form)");
  run_check(c, stream, signature(Kind::all_gather, in.dtype(), 0, -1, in.numel()));
  const DType t = in.dtype();
  const bool in_place = overlap(ri, ro);
  // In place on a staged out: the input goes to its slot of the stage.
  if (in_place && c.transport->host_memory() && !host_address(out)) {
    run_whole(c, stream, what, nullptr, &out, [&](const void*, void* b, size_t cnt, void* ns) {
      char* slot = static_cast<char*>(b) + static_cast<int64_t>(r) * in.nbytes();
      download(stream, what, in, 0, slot, in.nbytes());
      sync(stream, what);
      c.comm->all_gather(slot, b, cnt, t, ns);
    }, in.numel());
    return;
  }
  run_whole(c, stream, what, &in, &out, [&](const void* a, void* b, size_t cnt, void* ns) {
    c.comm->all_gather(a, b, cnt, t, ns);
  }, in.numel());
}

void Communicator::reduce_scatter(Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op) {
  const char* what = op_label(Kind::reduce_scatter);
  CommImpl& c = need(*this, what);
  std::lock_guard<std::mutex> lock(c.mu);
  c.check_usable(what);
  check_stream(c, what, stream);
  check_tensor(c, what, "in", in);
  check_tensor(c, what, "out", out);
  check_same_dtype(what, in, out);
  check_reducible(what, in.dtype());
  const int n = c.comm->size(), r = c.comm->rank();
  if (in.numel() != out.numel() * n)
    throw Error(Errc::shape_mismatch, std::string(what) + ": in " + in.str() + " must hold size (" +
                                          std::to_string(n) + ") x out " + out.str() + " elements");
  const Range ri = range_of(in), ro = range_of(out);
  if (overlap(ri, ro) && !(ri.buffer == ro.buffer && ro.begin == ri.begin + r * out.nbytes()))
    throw Error(Errc::invalid_argument, std::string(what) + ": out overlaps in but is not rank " +
                                            std::to_string(r) + "'s slice of it (the in-place form)");
  run_check(c, stream, signature(Kind::reduce_scatter, in.dtype(), static_cast<uint32_t>(op), -1, out.numel()));
  const DType t = in.dtype();
  run_whole(c, stream, what, &in, &out, [&](const void* a, void* b, size_t cnt, void* ns) {
    c.comm->reduce_scatter(a, b, cnt, t, op, ns);
  }, out.numel());
}

void Communicator::send(Stream& stream, const Tensor& t, int peer) {
  const char* what = op_label(Kind::send);
  CommImpl& c = need(*this, what);
  std::lock_guard<std::mutex> lock(c.mu);
  c.check_usable(what);
  check_stream(c, what, stream);
  check_tensor(c, what, "the tensor", t);
  check_rank(c, what, "peer", peer, false);
  run_check(c, stream, signature(Kind::send, t.dtype(), 0, peer, t.numel()));
  const DType dt = t.dtype();
  run_whole(c, stream, what, &t, nullptr, [&](const void* a, void*, size_t cnt, void* ns) {
    c.comm->send(a, cnt, dt, peer, ns);
  }, t.numel());
}

void Communicator::recv(Stream& stream, const Tensor& t, int peer) {
  const char* what = op_label(Kind::recv);
  CommImpl& c = need(*this, what);
  std::lock_guard<std::mutex> lock(c.mu);
  c.check_usable(what);
  check_stream(c, what, stream);
  check_tensor(c, what, "the tensor", t);
  check_rank(c, what, "peer", peer, false);
  run_check(c, stream, signature(Kind::recv, t.dtype(), 0, peer, t.numel()));
  const DType dt = t.dtype();
  run_whole(c, stream, what, nullptr, &t, [&](const void*, void* b, size_t cnt, void* ns) {
    c.comm->recv(b, cnt, dt, peer, ns);
  }, t.numel());
}

}  // namespace porta
