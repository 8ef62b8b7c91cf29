// PORTA_DEVICE: parsing and matching, as a pure function so it is unit-testable.
//
//   spec     := term (',' term)*          first term that matches wins
//   term     := 'auto' | backend [':' selector]
//   selector := INDEX | 'gpu' | 'igpu' | 'cpu' | 'uuid=' HEXPREFIX | 'name=' SUBSTRING
//
// 'auto' ranks discrete GPUs over integrated GPUs over other hardware over the cpu
// backend and never picks a software device (llvmpipe, PoCL) except the cpu backend;
// naming a backend can pick its software devices.
//
// One spec serves a whole fleet: a term naming a backend that is not loaded on this host
// (a vendor module present on some hosts only, e.g. 'musa,cpu') is passed over with a note
// ("did you mean 'vulkan'?" when the name is close to a known one); the last term must name
// a known backend, so a typo can never leave the list without a fallback.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "porta/device.h"

namespace porta::detail {

struct Candidate {
  std::string backend;
  int index = 0;
  DeviceType type = DeviceType::other;
  bool software = false;
  std::string uuid;
  std::string name;
};

struct Selection {
  size_t position = 0;             // into the candidate list
  std::string reason;              // for the info log
  std::vector<std::string> notes;  // terms passed over as unknown backends, for the info log
};

struct SelectionContext {
  std::vector<Candidate> devices;                  // in porta::devices() order
  std::vector<std::string> known_backends;         // names a term may use
  std::map<std::string, std::string> load_errors;  // backend -> why it did not load or found nothing
};

/// Throws Error(invalid_argument) for a malformed spec and Error(backend_unavailable)
/// when nothing matches; both messages list every device found.
Selection select_device(const std::string& spec, const SelectionContext& ctx);

/// The known name closest to `name` by edit distance (insertions, deletions, substitutions,
/// swaps of neighbours), when close enough to be a likely typo; empty otherwise.
std::string closest_name(const std::string& name, const std::vector<std::string>& known);

}  // namespace porta::detail
