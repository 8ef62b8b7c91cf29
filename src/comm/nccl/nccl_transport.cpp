// The NCCL-API transport module: loads the library named by PORTA_COMM_NCCL_LIBRARY (default
// per prefix: libnccl.so.2, librccl.so.1, libmccl.so) with PORTA_COMM_NCCL_PREFIX's symbols.
#include <cstring>

#include "comm/nccl/nccl_comm.h"

namespace porta::comm {
namespace {

static_assert(sizeof(ncclUniqueId) <= sizeof(CommId::bytes), "CommId holds an ncclUniqueId");

std::string default_library(const std::string& prefix) {
  if (prefix == "rccl") return "librccl.so.1";
  if (prefix == "mccl") return "libmccl.so";
  return "libnccl.so.2";
}

class NcclTransport final : public Transport {
 public:
  explicit NcclTransport(const Settings& s) : settings_(s) {
    // RCCL keeps NCCL's symbol names; other copies rename them (mccl…).
    const std::string variant = s.nccl_prefix.empty() ? "nccl" : s.nccl_prefix;
    const std::string symbols = variant == "rccl" ? "nccl" : variant;
    api_ = std::make_shared<const NcclApi>(
        NcclApi::load(s.nccl_library.empty() ? default_library(variant) : s.nccl_library, symbols));
    name_ = variant;
  }
  std::string name() const override { return name_; }
  bool host_memory() const override { return false; }

  CommId unique_id() override {
    ncclUniqueId uid;
    const ncclResult_t r = api_->GetUniqueId(&uid);
    if (r != ncclSuccess)
      throw Error(Errc::comm_failed, "Communicator::unique_id: " + api_->error_text(r));
    CommId id;
    std::memcpy(id.bytes.data(), &uid, sizeof uid);
    return id;
  }

  std::unique_ptr<Comm> create(const CommId& id, int rank, int size, int device_ordinal) override {
    (void)device_ordinal;  // core made the device current on this thread
    ncclUniqueId uid;
    std::memcpy(&uid, id.bytes.data(), sizeof uid);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // init returns at once; the deadline below bounds the wait
    ncclComm_t comm = nullptr;
    const ncclResult_t r = api_->CommInitRankConfig(&comm, size, uid, rank, &config);
    if (r != ncclSuccess && r != ncclInProgress)
      throw Error(Errc::comm_failed, "Communicator::create: " + api_->error_text(r));
    nccl_wait_ready(*api_, comm, settings_.timeout_s, "Communicator::create");
    return std::make_unique<NcclComm>(api_, comm, rank, size, settings_);
  }

  std::unique_ptr<Comm> from_mpi(int64_t) override {
    throw Error(Errc::internal, "nccl transport: from_mpi is core's job (an id broadcast over MPI)");
  }

 private:
  Settings settings_;
  std::shared_ptr<const NcclApi> api_;
  std::string name_;
};

Transport* create_transport(const Settings& s) { return new NcclTransport(s); }

}  // namespace
}  // namespace porta::comm

PORTA_DEFINE_COMM_TRANSPORT(nccl, porta::comm::create_transport)
