// A test-only module built against an older backend interface: core must skip it
// with a diagnostic that says to rebuild it.
#include "core/backend.h"

extern "C" __attribute__((visibility("default"))) const porta::backend::BackendModule* porta_backend_entry() {
  static const porta::backend::BackendModule module{porta::backend::kInterfaceVersion + 100, "oldabi", [] {
                                                      return static_cast<porta::backend::Backend*>(nullptr);
                                                    }};
  return &module;
}
