#include "comm/nccl/nccl_comm.h"

#include <chrono>

namespace porta::comm {
namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f16: return ncclFloat16;
    case DType::bf16: return ncclBfloat16;
    case DType::i8: return ncclInt8;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
  }
  throw Error(Errc::dtype_mismatch, std::string("nccl transport: no NCCL type for ") + dtype_name(t));
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::max ? ncclMax : ncclSum; }
cudaStream_t native(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

void nccl_wait_ready(const NcclApi& api, ncclComm_t comm, double timeout_s, const std::string& what) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = api.CommGetAsyncError(comm, &state);
    if (r != ncclSuccess) state = r;
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) {
      api.CommAbort(comm);
      throw Error(Errc::comm_failed, what + ": " + api.error_text(state) + "; the communicator is aborted");
    }
    if (clock::now() > deadline) {
      api.CommAbort(comm);
      throw Error(Errc::comm_failed, what + ": not done after " + std::to_string(static_cast<int>(timeout_s)) +
                                         " s (PORTA_COMM_TIMEOUT_S): a rank has not joined or died; aborted");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

NcclComm::NcclComm(std::shared_ptr<const NcclApi> api, ncclComm_t comm, int rank, int size, const Settings& settings)
    : api_(std::move(api)), comm_(comm), rank_(rank), size_(size), settings_(settings) {
  watchdog_ = std::thread([this] { watch(); });
}

NcclComm::~NcclComm() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  watchdog_.join();
  if (failed_.load()) return;  // aborted already: nothing left to free
  try {
    if (api_->CommFinalize) {
      const ncclResult_t r = api_->CommFinalize(comm_);
      if (r == ncclSuccess || r == ncclInProgress) nccl_wait_ready(*api_, comm_, settings_.timeout_s, "~Communicator");
    }
    api_->CommDestroy(comm_);
  } catch (const Error&) {
    // nccl_wait_ready aborted it; a destructor does not throw
  }
}

void NcclComm::watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (stop_ || failed_.load()) continue;
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = api_->CommGetAsyncError(comm_, &state);
    if (r != ncclSuccess) state = r;
    if (state == ncclSuccess || state == ncclInProgress) continue;
    reason_ = "watchdog: " + api_->error_text(state);
    failed_ = true;
    api_->CommAbort(comm_);  // frees kernels waiting on a dead peer
  }
}

void NcclComm::abort() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.exchange(true)) return;
  reason_ = "aborted";
  api_->CommAbort(comm_);
}

void NcclComm::issued(const char* what, ncclResult_t r) {
  if (r == ncclInProgress) {
    nccl_wait_ready(*api_, comm_, settings_.timeout_s, what);
    return;
  }
  if (r == ncclSuccess) return;
  failed_ = true;
  api_->CommAbort(comm_);
  throw Error(Errc::comm_failed, std::string(what) + ": " + api_->error_text(r) + "; the communicator is aborted");
}

#define PORTA_NCCL_ISSUE(what, call)                                                                 \
  do {                                                                                               \
    if (failed_.load()) {                                                                            \
      std::lock_guard<std::mutex> lock(mu_);                                                         \
      throw Error(Errc::comm_failed, std::string(what) + ": the communicator failed (" + reason_ + ")"); \
    }                                                                                                \
    issued(what, call);                                                                              \
  } while (0)

void NcclComm::all_reduce(const void* in, void* out, size_t count, DType t, ReduceOp op, void* s) {
  PORTA_NCCL_ISSUE("all_reduce", api_->AllReduce(in, out, count, nccl_type(t), nccl_op(op), comm_, native(s)));
}
void NcclComm::all_gather(const void* in, void* out, size_t count, DType t, void* s) {
  PORTA_NCCL_ISSUE("all_gather", api_->AllGather(in, out, count, nccl_type(t), comm_, native(s)));
}
void NcclComm::reduce_scatter(const void* in, void* out, size_t count, DType t, ReduceOp op, void* s) {
  PORTA_NCCL_ISSUE("reduce_scatter",
                   api_->ReduceScatter(in, out, count, nccl_type(t), nccl_op(op), comm_, native(s)));
}
void NcclComm::broadcast(const void* in, void* out, size_t count, DType t, int root, void* s) {
  PORTA_NCCL_ISSUE("broadcast", api_->Broadcast(in, out, count, nccl_type(t), root, comm_, native(s)));
}
void NcclComm::send(const void* buf, size_t count, DType t, int peer, void* s) {
  PORTA_NCCL_ISSUE("send", api_->Send(buf, count, nccl_type(t), peer, comm_, native(s)));
}
void NcclComm::recv(void* buf, size_t count, DType t, int peer, void* s) {
  PORTA_NCCL_ISSUE("recv", api_->Recv(buf, count, nccl_type(t), peer, comm_, native(s)));
}

void NcclComm::check(const Signature& s, void*) {
  // Device-memory transports are checked by core through a small device tensor.
  (void)s;
  throw Error(Errc::unsupported, "nccl transport: check runs in core");
}

std::unique_ptr<Comm> NcclComm::split(int color, int key) {
  if (!api_->CommSplit)
    throw Error(Errc::unsupported, "Communicator::split: " + api_->library + " has no " + api_->prefix +
                                       "CommSplit (NCCL >= 2.18 has it)");
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t sub = nullptr;
  PORTA_NCCL_ISSUE("split", api_->CommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &sub, &config));
  if (color < 0 || sub == nullptr) return nullptr;
  nccl_wait_ready(*api_, sub, settings_.timeout_s, "split");
  // Rank and size of the new communicator are what the split made them: ask it.
  int sub_rank = 0, sub_size = 0;
  if (api_->CommUserRank(sub, &sub_rank) != ncclSuccess || api_->CommCount(sub, &sub_size) != ncclSuccess) {
    api_->CommAbort(sub);
    throw Error(Errc::comm_failed, "Communicator::split: cannot query the new communicator");
  }
  return std::make_unique<NcclComm>(api_, sub, sub_rank, sub_size, settings_);
}

}  // namespace porta::comm
