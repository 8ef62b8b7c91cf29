#include "comm/nccl/nccl_api.h"

#include <dlfcn.h>

#include "porta/error.h"

namespace porta::comm {
namespace {

template <typename Fn>
void resolve(void* lib, const NcclApi& api, const char* name, Fn& fn, bool required) {
  const std::string symbol = api.prefix + name;
  fn = reinterpret_cast<Fn>(dlsym(lib, symbol.c_str()));
  if (!fn && required)
    throw Error(Errc::backend_unavailable, "Communicator: " + api.library + " has no symbol " + symbol +
                                               "; is it an NCCL-API library with prefix '" + api.prefix +
                                               "'? (PORTA_COMM_NCCL_PREFIX)");
}

}  // namespace

NcclApi NcclApi::load(const std::string& library, const std::string& prefix) {
  NcclApi api;
  api.library = library;
  api.prefix = prefix;
  dlerror();
  // Never closed: the library keeps proxy threads until process exit.
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    throw Error(Errc::backend_unavailable, "Communicator: cannot load " + library + " (" + (err ? err : "?") +
                                               "); install it or set PORTA_COMM_NCCL_LIBRARY to its path");
  }
  resolve(lib, api, "GetErrorString", api.GetErrorString, true);
  resolve(lib, api, "GetUniqueId", api.GetUniqueId, true);
  resolve(lib, api, "CommInitRankConfig", api.CommInitRankConfig, true);
  resolve(lib, api, "CommSplit", api.CommSplit, false);
  resolve(lib, api, "CommGetAsyncError", api.CommGetAsyncError, true);
  resolve(lib, api, "CommAbort", api.CommAbort, true);
  resolve(lib, api, "CommDestroy", api.CommDestroy, true);
  resolve(lib, api, "CommFinalize", api.CommFinalize, false);
  resolve(lib, api, "CommCount", api.CommCount, true);
  resolve(lib, api, "CommUserRank", api.CommUserRank, true);
  resolve(lib, api, "AllReduce", api.AllReduce, true);
  resolve(lib, api, "AllGather", api.AllGather, true);
  resolve(lib, api, "ReduceScatter", api.ReduceScatter, true);
  resolve(lib, api, "Broadcast", api.Broadcast, true);
  resolve(lib, api, "Send", api.Send, true);
  resolve(lib, api, "Recv", api.Recv, true);
  return api;
}

std::string NcclApi::error_text(ncclResult_t r) const {
  const char* s = GetErrorString ? GetErrorString(r) : nullptr;
  return prefix + " error " + std::to_string(static_cast<int>(r)) + " (" + (s ? s : "?") + ")";
}

}  // namespace porta::comm
