// Core's object behind porta::Communicator, and the loader of transport modules.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/comm_transport.h"
#include "porta/comm.h"
#include "porta/device.h"

namespace porta::detail {

/// Loads libporta_comm_<module>.so from the module directories once per process (cached,
/// never unloaded: MPI must outlive every communicator). `variant` selects the NCCL-API
/// library's symbol prefix. Throws backend_unavailable naming what was searched and the fix.
std::shared_ptr<comm::Transport> load_transport(const std::string& module, const std::string& variant);

/// "auto" → PORTA_COMM_TRANSPORT, else nccl for cuda/hip devices (when it loads), else mpi.
/// Returns {module, variant}: ("nccl", "rccl") for the hip backend.
std::pair<std::string, std::string> resolve_transport(const Device& device, const std::string& requested,
                                                      bool for_mpi_launch);

class CommImpl {
 public:
  CommImpl(Device dev, std::shared_ptr<comm::Transport> t, std::unique_ptr<comm::Comm> c)
      : device(std::move(dev)), transport(std::move(t)), comm(std::move(c)) {}
  ~CommImpl();

  /// Throws comm_failed when aborted, device_lost when the device is.
  void check_usable(const char* what) const;
  /// Runs a transport call; a comm_failed error aborts this communicator for good.
  template <typename Fn>
  void guarded(const char* what, Fn&& fn) {
    check_usable(what);
    try {
      fn();
    } catch (const Error& e) {
      if (e.code() == Errc::comm_failed) abort_with(e.what());
      throw;
    }
  }
  void abort_with(const std::string& reason);

  Device device;
  std::shared_ptr<comm::Transport> transport;
  std::unique_ptr<comm::Comm> comm;
  std::mutex mu;                // one call at a time on this communicator
  std::vector<char> stage_in, stage_out;  // host staging of device buffers (host transports)
  std::atomic<bool> aborted{false};  // set once; abort() may come from another thread
  mutable std::mutex reason_mu;
  std::string abort_reason;
};

}  // namespace porta::detail
