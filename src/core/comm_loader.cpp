// Finds and loads collective-transport modules (libporta_comm_<name>.so), once per process.
#include <dlfcn.h>
#include <sys/stat.h>

#include <map>
#include <mutex>

#include "core/comm_impl.h"
#include "core/impl.h"
#include "core/log.h"
#include "core/options.h"
#include "core/registry.h"

namespace porta::detail {
namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::shared_ptr<comm::Transport> open_module(const std::string& module, const comm::Settings& settings) {
  const std::string file = "libporta_comm_" + module + ".so";
  std::string searched;
  for (const std::string& dir : module_search_dirs()) {
    const std::string path = dir + "/" + file;
    searched += (searched.empty() ? "" : ", ") + dir;
    if (!file_exists(path)) continue;
    dlerror();
    // Never closed: MPI and NCCL keep threads and state until process exit.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* err = dlerror();
      throw Error(Errc::backend_unavailable, "Communicator: transport module " + path + " failed to load: " +
                                                 (err ? err : "unknown error") +
                                                 " (is the library it needs installed? scripts/install-deps.sh)");
    }
    using Entry = const comm::TransportModule* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, "porta_comm_entry"));
    const comm::TransportModule* m = entry ? entry() : nullptr;
    if (!m) throw Error(Errc::backend_unavailable, "Communicator: " + path + " has no porta_comm_entry");
    if (m->interface_version != comm::kTransportInterfaceVersion)
      throw Error(Errc::backend_unavailable, "Communicator: " + path + " was built for transport interface " +
                                                 std::to_string(m->interface_version) + ", this libporta has " +
                                                 std::to_string(comm::kTransportInterfaceVersion) +
                                                 "; rebuild it with this porta");
    std::shared_ptr<comm::Transport> t(m->create(settings));
    if (!t) throw Error(Errc::backend_unavailable, "Communicator: " + path + " returned no transport");
    log_info("collective transport " + t->name() + " loaded from " + path);
    return t;
  }
  throw Error(Errc::backend_unavailable,
              "Communicator: transport '" + module + "' is not installed (" + file + " not found in " + searched +
                  "); build porta where its library is present (mpi: libopenmpi-dev; nccl: the CUDA toolkit's "
                  "nccl.h) or set PORTA_PLUGIN_PATH");
}

}  // namespace

std::shared_ptr<comm::Transport> load_transport(const std::string& module, const std::string& variant) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::shared_ptr<comm::Transport>>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = module + "/" + variant;
  if (auto it = cache->find(key); it != cache->end()) return it->second;
  comm::Settings settings = env_options().comm;
  if (module == "nccl" && settings.nccl_prefix.empty()) settings.nccl_prefix = variant;
  auto t = open_module(module, settings);
  (*cache)[key] = t;
  return t;
}

std::pair<std::string, std::string> resolve_transport(const Device& device, const std::string& requested,
                                                      bool for_mpi_launch) {
  std::string want = requested;
  if (want == "auto" || want.empty()) want = env_options().comm_transport;
  const std::string& backend = device.info().backend;
  const std::string native_variant = backend == "hip" ? "rccl" : "nccl";
  if (want == "mpi") return {"mpi", ""};
  if (want == "nccl" || want == "rccl" || want == "mccl") return {"nccl", want == "nccl" ? native_variant : want};
  if (!want.empty() && want != "auto")
    throw Error(Errc::invalid_argument, "Communicator: unknown transport '" + want +
                                            "'; use auto, mpi, nccl, rccl or mccl (PORTA_COMM_TRANSPORT)");
  // auto: the device's native collective library when it loads, else MPI (staged).
  // (A backend that gives no native device, e.g. one built before the collective hooks,
  // stays on mpi.)
  const bool native = (backend == "cuda" || backend == "hip") &&
                      device.impl()->call("Communicator", [&] { return device.impl()->backend().make_native_current(); }) >= 0;
  if (native) {
    try {
      load_transport("nccl", native_variant);
      return {"nccl", native_variant};
    } catch (const Error& e) {
      if (!for_mpi_launch) throw;
      log_info(std::string("Communicator: ") + e.what() + "; using the mpi transport (host-staged)");
    }
  }
  if (!for_mpi_launch)
    throw Error(Errc::unsupported, "Communicator::create: " + device.description() +
                                       " has no id-based transport (only nccl-family ones are); launch with "
                                       "mpirun and use Communicator::from_mpi");
  return {"mpi", ""};
}

}  // namespace porta::detail
