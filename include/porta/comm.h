// Collectives across processes (and hosts): porta::Communicator.
//
// A communicator joins one device per process (rank 0 … size-1). Its operations are
// ordered on a porta::Stream like every other op. They run on a transport, a run-time
// module libporta never links (so a host without the library still runs porta):
//   "mpi"  — Open MPI (or any MPI) for every device kind; device memory is staged through
//            host memory in chunks. Each call BLOCKS THE HOST until the collective is done
//            (it synchronizes the stream first).
//   "nccl" — an NCCL-API library (NCCL, RCCL, MCCL, …) for CUDA-family devices; calls are
//            enqueued on the stream's native stream and return without waiting.
// Results of all_reduce and reduce_scatter are bitwise identical on every rank (each
// element is reduced in one fixed order and then distributed), so tensor-parallel greedy
// decoding cannot diverge across ranks.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "porta/device.h"
#include "porta/tensor.h"

namespace porta {

namespace detail {
class CommImpl;
}
class Stream;

enum class ReduceOp : uint8_t { sum, max };

/// Opaque bytes that join processes into one communicator (NCCL's unique-id model): one
/// process calls Communicator::unique_id, the engine ships the bytes to the others (its
/// own channel: a socket, a file, MPI), every process calls Communicator::create with it.
struct CommId {
  std::array<uint8_t, 128> bytes{};
};

class Communicator {
 public:
  /// A fresh id for `transport` ("nccl", "auto" = the transport `device` would use).
  static CommId unique_id(const Device& device, const std::string& transport = "auto");
  /// Joins `size` processes, this one as `rank`, from an id made by unique_id. Collective:
  /// every rank must call it. Throws backend_unavailable when the transport cannot load.
  static Communicator create(const Device& device, const CommId& id, int rank, int size,
                             const std::string& transport = "auto");
  /// For launches through mpirun/srun: every process of the MPI communicator whose Fortran
  /// handle is `mpi_comm` (MPI_Comm_c2f(comm); kMpiWorld = MPI_COMM_WORLD) joins, rank =
  /// MPI rank. Initialises MPI when the program has not (and finalises it at exit).
  /// transport "auto": "nccl" for cuda/hip devices when the library loads, else "mpi";
  /// with "nccl" the id travels over MPI.
  static constexpr int64_t kMpiWorld = -1;
  static Communicator from_mpi(const Device& device, int64_t mpi_comm = kMpiWorld,
                               const std::string& transport = "auto");

  Communicator();  // empty handle
  ~Communicator();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  bool valid() const { return impl_ != nullptr; }
  int rank() const;
  int size() const;
  const Device& device() const;
  /// "mpi" or "nccl" (or the NCCL-API library's prefix, e.g. "rccl").
  std::string transport() const;

  /// Ranks passing the same color form a new communicator, ordered by (key, rank);
  /// a negative color returns an empty handle. Collective over this communicator.
  Communicator split(int color, int key) const;
  /// Abandons the communicator without talking to the other ranks (after an error or a
  /// timeout); every later call throws. Destruction of a healthy one frees it normally.
  void abort();

  // ---- collectives, ordered on `stream` (a stream of device()). Tensors are contiguous,
  // on device(), one dtype. out may be the same tensor as in (in place). ----

  /// out = reduce over ranks of in (same shape); f32, f16, bf16 (f16/bf16 are summed in
  /// f32 and rounded once), i32 for max and sum.
  void all_reduce(Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op = ReduceOp::sum);
  /// out (size × in.numel() elements) = every rank's in, in rank order. In place: in is
  /// rank()'s slice of out.
  void all_gather(Stream& stream, const Tensor& in, const Tensor& out);
  /// out (in.numel() / size elements) = rank()'s slice of the reduction of in.
  void reduce_scatter(Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op = ReduceOp::sum);
  /// out = root's in on every rank (in is read only on root; may be out).
  void broadcast(Stream& stream, const Tensor& in, const Tensor& out, int root);
  /// Point to point; every send needs the matching recv on `peer` (same numel and dtype).
  void send(Stream& stream, const Tensor& t, int peer);
  void recv(Stream& stream, const Tensor& t, int peer);

  detail::CommImpl* impl() const { return impl_.get(); }
  explicit Communicator(std::shared_ptr<detail::CommImpl> impl);

 private:
  std::shared_ptr<detail::CommImpl> impl_;
};

}  // namespace porta
