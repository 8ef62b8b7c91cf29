// One porta communicator over an NCCL-API communicator, created non-blocking. A watchdog
// thread polls CommGetAsyncError and aborts the communicator on an error (a dead peer's
// closed connection is one), which also frees kernels stuck waiting for that peer; every
// later call then raises Errc::comm_failed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "comm/nccl/nccl_api.h"
#include "core/comm_transport.h"

namespace porta::comm {

/// Polls a non-blocking communicator until its pending operation is issued; aborts it and
/// throws comm_failed on an error or after `timeout_s`.
void nccl_wait_ready(const NcclApi& api, ncclComm_t comm, double timeout_s, const std::string& what);

class NcclComm final : public Comm {
 public:
  NcclComm(std::shared_ptr<const NcclApi> api, ncclComm_t comm, int rank, int size, const Settings& settings);
  ~NcclComm() override;

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
  void abort() noexcept override;

 private:
  void issued(const char* what, ncclResult_t r);
  void watch();

  std::shared_ptr<const NcclApi> api_;
  ncclComm_t comm_;
  int rank_, size_;
  Settings settings_;
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string reason_;
  std::thread watchdog_;
};

}  // namespace porta::comm
