// One porta communicator over an MPI communicator: non-blocking MPI calls completed by a
// polling wait with a deadline (PORTA_COMM_TIMEOUT_S), so a dead or stalled rank gives
// Errc::comm_failed instead of a hang. all_reduce is reduce-scatter + all-gather with the
// reduction done here in rank order (bitwise identical on every rank).
#pragma once

#include <mpi.h>

#include <vector>

#include "core/comm_transport.h"

namespace porta::comm {

class MpiComm final : public Comm {
 public:
  /// Takes ownership of `comm` (freed in the destructor unless aborted).
  MpiComm(MPI_Comm comm, const Settings& settings);
  ~MpiComm() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce(const void* in, void* out, size_t count, DType t, ReduceOp op, void* stream) override;
  void all_gather(const void* in, void* out, size_t count, DType t, void* stream) override;
  void reduce_scatter(const void* in, void* out, size_t count, DType t, ReduceOp op, void* stream) override;
  void broadcast(const void* in, void* out, size_t count, DType t, int root, void* stream) override;
  void send(const void* buf, size_t count, DType t, int peer, void* stream) override;
  void recv(void* buf, size_t count, DType t, int peer, void* stream) override;
  void check(const Signature& s, void* stream) override;
  std::unique_ptr<Comm> split(int color, int key) override;
  void abort() noexcept override { aborted_ = true; }

 private:
  /// Completes `reqs` or throws comm_failed after the deadline (requests are then leaked).
  void wait(MPI_Request* reqs, int n, const char* what);
  void mpi_check(int rc, const char* call, const char* what);
  void all_reduce_chunk(const char* in, char* out, size_t count, DType t, ReduceOp op);

  MPI_Comm comm_;
  Settings settings_;
  int rank_ = 0, size_ = 1;
  bool aborted_ = false;
  std::vector<char> scratch_;
};

}  // namespace porta::comm
