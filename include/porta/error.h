// porta::Error and porta::Errc: the only way porta reports failure.
#pragma once

#include <stdexcept>
#include <string>

namespace porta {

enum class Errc {
  invalid_argument,     // a value is out of range or a combination is not allowed
  shape_mismatch,       // tensor shapes do not fit together
  dtype_mismatch,       // tensor dtypes do not fit together
  device_mismatch,      // tensors live on different devices
  unsupported,          // valid request the device or backend cannot run
  out_of_memory,        // an allocation failed; the device stays usable
  device_lost,          // sticky: the device refuses all further work
  backend_unavailable,  // a backend or device could not be loaded or selected
  internal,             // a bug in porta or a driver; please report it
  comm_failed,          // a collective failed or passed its deadline; the communicator is aborted
};

/// Name of an error code, e.g. "shape_mismatch".
const char* to_string(Errc code) noexcept;

/// Every porta failure is thrown as porta::Error. The message names the op, the
/// offending shapes or dtypes and what would be valid.
class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message);
  ~Error() override;
  Error(const Error&) = default;
  Error& operator=(const Error&) = default;

  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

}  // namespace porta
