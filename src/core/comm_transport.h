// The collective-transport interface: what a run-time module (libporta_comm_<name>.so)
// implements so porta::Communicator can run on it. Two built here: mpi (host memory, every
// device kind; core stages device buffers) and nccl (device memory on native streams; any
// NCCL-API library by path and symbol prefix).
//
// Contract:
//  * Core validates every call (contiguity, dtypes, counts, ranks) before it reaches a
//    transport and passes element counts. A transport reports failure by throwing
//    porta::Error; Errc::comm_failed means the communicator is unusable (core aborts it).
//  * host_memory() transports get host pointers and return when the collective is done
//    (stream is null). Device-memory transports get native device pointers and enqueue on
//    `stream` (a native stream from backend::Queue::native_stream()).
//  * A Comm is used by one thread at a time (core serialises calls per communicator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "porta/comm.h"
#include "porta/dtype.h"
#include "porta/error.h"

namespace porta::comm {

constexpr uint32_t kTransportInterfaceVersion = 1;

/// PORTA_COMM_* settings, parsed once by core.
struct Settings {
  double timeout_s = 300;         // PORTA_COMM_TIMEOUT_S: a wait longer than this aborts
  bool check = false;             // PORTA_COMM_CHECK=1: ranks compare each call's signature first
  uint64_t chunk_bytes = 4 << 20;  // PORTA_COMM_CHUNK_KIB: staging chunk of host transports
  std::string nccl_library;       // PORTA_COMM_NCCL_LIBRARY: path or soname (default libnccl.so.2)
  std::string nccl_prefix;        // PORTA_COMM_NCCL_PREFIX: symbol prefix (nccl, rccl, mccl, …)
};

enum class Kind : uint32_t { all_reduce, all_gather, reduce_scatter, broadcast, send, recv };
inline const char* kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::all_reduce: return "all_reduce";
    case Kind::all_gather: return "all_gather";
    case Kind::reduce_scatter: return "reduce_scatter";
    case Kind::broadcast: return "broadcast";
    case Kind::send: return "send";
    case Kind::recv: return "recv";
  }
  return "?";
}

/// One call as every rank must make it (PORTA_COMM_CHECK compares these across ranks).
struct Signature {
  Kind kind = Kind::all_reduce;
  uint32_t dtype = 0;
  uint32_t op = 0;
  int32_t root = -1;  // broadcast root, or the peer of send/recv
  uint64_t count = 0;
  /// "all_reduce(sum, f16 x 7)"
  std::string str() const {
    std::string s = std::string(kind_name(kind)) + "(";
    if (kind == Kind::all_reduce || kind == Kind::reduce_scatter) s += op == 0 ? "sum, " : "max, ";
    if (kind == Kind::broadcast) s += "root " + std::to_string(root) + ", ";
    if (kind == Kind::send || kind == Kind::recv) s += "peer " + std::to_string(root) + ", ";
    return s + (dtype < kNumDTypes ? dtype_name(static_cast<DType>(dtype)) : "?") + " x " + std::to_string(count) + ")";
  }
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  /// count = elements of in and out.
  virtual void all_reduce(const void* in, void* out, size_t count, DType t, ReduceOp op, void* stream) = 0;
  /// count = elements per rank (in); out holds size() × count. in == out + rank·count: in place.
  virtual void all_gather(const void* in, void* out, size_t count, DType t, void* stream) = 0;
  /// count = elements per rank (out); in holds size() × count.
  virtual void reduce_scatter(const void* in, void* out, size_t count, DType t, ReduceOp op, void* stream) = 0;
  virtual void broadcast(const void* in, void* out, size_t count, DType t, int root, void* stream) = 0;
  virtual void send(const void* buf, size_t count, DType t, int peer, void* stream) = 0;
  virtual void recv(void* buf, size_t count, DType t, int peer, void* stream) = 0;

  /// PORTA_COMM_CHECK: throws shape_mismatch / dtype_mismatch naming both calls when the
  /// ranks taking part disagree (collective; for send/recv only the pair).
  virtual void check(const Signature& s, void* stream) = 0;
  /// MPI_Comm_split / ncclCommSplit semantics; null for a negative color.
  virtual std::unique_ptr<Comm> split(int color, int key) = 0;
  /// Abandons the communicator without talking to peers (ncclCommAbort; MPI: requests leaked).
  virtual void abort() noexcept = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string name() const = 0;
  /// true: buffers are host pointers and calls block (core stages device memory).
  virtual bool host_memory() const = 0;
  /// A fresh id (NCCL's ncclGetUniqueId); unsupported for transports joined only through MPI.
  virtual CommId unique_id() = 0;
  /// Joins size ranks from an id; `device_ordinal` from backend::Device::make_native_current
  /// (already made current on this thread). Collective.
  virtual std::unique_ptr<Comm> create(const CommId& id, int rank, int size, int device_ordinal) = 0;
  /// From an MPI communicator's Fortran handle (-1: MPI_COMM_WORLD); unsupported when the
  /// transport is not MPI itself.
  virtual std::unique_ptr<Comm> from_mpi(int64_t fortran_comm) = 0;
};

struct TransportModule {
  uint32_t interface_version;  // kTransportInterfaceVersion
  const char* name;
  /// Creates the transport (owned by core); throws porta::Error(backend_unavailable) when the
  /// library it needs is absent.
  Transport* (*create)(const Settings& settings);
};

}  // namespace porta::comm

#if defined(_WIN32)
#define PORTA_COMM_EXPORT extern "C" __declspec(dllexport)
#else
#define PORTA_COMM_EXPORT extern "C" __attribute__((visibility("default")))
#endif
/// Each transport module defines its entry with this macro.
#define PORTA_DEFINE_COMM_TRANSPORT(name, factory)                                                    \
  PORTA_COMM_EXPORT const ::porta::comm::TransportModule* porta_comm_entry() {                       \
    static const ::porta::comm::TransportModule module{::porta::comm::kTransportInterfaceVersion, \
                                                       #name, factory};                             \
    return &module;                                                                                 \
  }
