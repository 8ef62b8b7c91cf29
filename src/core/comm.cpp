// porta::Communicator: creation (from an id or an MPI communicator), split, abort.
#include "porta/comm.h"

#include "core/comm_impl.h"
#include "core/impl.h"
#include "core/log.h"

namespace porta {
namespace detail {

// A transport's Comm knows whether it was aborted and frees only what is safe then.
CommImpl::~CommImpl() = default;

void CommImpl::check_usable(const char* what) const {
  if (aborted.load()) {
    std::lock_guard<std::mutex> lock(reason_mu);
    throw Error(Errc::comm_failed, std::string(what) + ": the communicator was aborted (" + abort_reason +
                                       "); create a new one");
  }
  device.impl()->check_alive(what);
}

void CommImpl::abort_with(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(reason_mu);
    if (aborted.exchange(true)) return;
    abort_reason = reason;
  }
  comm->abort();
  log_warn("communicator aborted: " + reason);
}

}  // namespace detail

namespace {

detail::DeviceImpl& need_device(const Device& d, const char* what) {
  if (!d.valid())
    throw Error(Errc::invalid_argument, std::string(what) + ": the device handle is empty; use porta::Device::select()");
  d.impl()->check_alive(what);
  return *d.impl();
}

int native_ordinal(const Device& d, const comm::Transport& t, const char* what) {
  if (t.host_memory()) return -1;
  const int ordinal = d.impl()->call(what, [&] { return d.impl()->backend().make_native_current(); });
  if (ordinal < 0)
    throw Error(Errc::unsupported, std::string(what) + ": " + d.description() + " has no native device the " +
                                       t.name() + " transport can use; use the mpi transport");
  return ordinal;
}

}  // namespace

Communicator::Communicator() = default;
Communicator::~Communicator() = default;
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::Communicator(std::shared_ptr<detail::CommImpl> impl) : impl_(std::move(impl)) {}

CommId Communicator::unique_id(const Device& device, const std::string& transport) {
  need_device(device, "Communicator::unique_id");
  const auto [module, variant] = detail::resolve_transport(device, transport, false);
  return detail::load_transport(module, variant)->unique_id();
}

Communicator Communicator::create(const Device& device, const CommId& id, int rank, int size,
                                  const std::string& transport) {
  const char* what = "Communicator::create";
  need_device(device, what);
  if (size < 1 || rank < 0 || rank >= size)
    throw Error(Errc::invalid_argument, std::string(what) + ": rank " + std::to_string(rank) + " of size " +
                                            std::to_string(size) + " is invalid; need 0 <= rank < size");
  const auto [module, variant] = detail::resolve_transport(device, transport, false);
  auto t = detail::load_transport(module, variant);
  const int ordinal = native_ordinal(device, *t, what);
  auto c = t->create(id, rank, size, ordinal);
  return Communicator(std::make_shared<detail::CommImpl>(device, t, std::move(c)));
}

Communicator Communicator::from_mpi(const Device& device, int64_t mpi_comm, const std::string& transport) {
  const char* what = "Communicator::from_mpi";
  need_device(device, what);
  auto mpi = detail::load_transport("mpi", "");
  auto host = mpi->from_mpi(mpi_comm);
  const auto [module, variant] = detail::resolve_transport(device, transport, true);
  if (module == "mpi") return Communicator(std::make_shared<detail::CommImpl>(device, mpi, std::move(host)));
  // An NCCL-API library joined through an id that rank 0 makes and MPI broadcasts.
  auto t = detail::load_transport(module, variant);
  CommId id;
  if (host->rank() == 0) id = t->unique_id();
  host->broadcast(id.bytes.data(), id.bytes.data(), id.bytes.size(), DType::i8, 0, nullptr);
  const int ordinal = native_ordinal(device, *t, what);
  auto c = t->create(id, host->rank(), host->size(), ordinal);
  return Communicator(std::make_shared<detail::CommImpl>(device, t, std::move(c)));
}

namespace {
detail::CommImpl& need(const std::shared_ptr<detail::CommImpl>& impl, const char* what) {
  if (!impl)
    throw Error(Errc::invalid_argument,
                std::string(what) + ": the communicator handle is empty; create one with Communicator::from_mpi or "
                                    "Communicator::create");
  return *impl;
}
}  // namespace

int Communicator::rank() const { return need(impl_, "Communicator::rank").comm->rank(); }
int Communicator::size() const { return need(impl_, "Communicator::size").comm->size(); }
const Device& Communicator::device() const { return need(impl_, "Communicator::device").device; }
std::string Communicator::transport() const { return need(impl_, "Communicator::transport").transport->name(); }

Communicator Communicator::split(int color, int key) const {
  auto& c = need(impl_, "Communicator::split");
  std::lock_guard<std::mutex> lock(c.mu);
  std::unique_ptr<comm::Comm> sub;
  c.guarded("Communicator::split", [&] { sub = c.comm->split(color, key); });
  if (!sub) return Communicator();
  return Communicator(std::make_shared<detail::CommImpl>(c.device, c.transport, std::move(sub)));
}

void Communicator::abort() {
  // No lock: another thread may be blocked in a collective of this communicator.
  auto& c = need(impl_, "Communicator::abort");
  c.abort_with("Communicator::abort called");
}

}  // namespace porta
