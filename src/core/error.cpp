#include "porta/error.h"

namespace porta {

const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::shape_mismatch: return "shape_mismatch";
    case Errc::dtype_mismatch: return "dtype_mismatch";
    case Errc::device_mismatch: return "device_mismatch";
    case Errc::unsupported: return "unsupported";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::device_lost: return "device_lost";
    case Errc::backend_unavailable: return "backend_unavailable";
    case Errc::internal: return "internal";
    case Errc::comm_failed: return "comm_failed";
  }
  return "unknown";
}

Error::Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
Error::~Error() = default;

}  // namespace porta
