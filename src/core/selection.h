// PORTA_DEVICE: parsing and matching, as a pure function so it is unit-testable.
//
//   spec     := term (',' term)*          first term that matches wins
//   term     := 'auto' | backend [':' selector]
//   selector := INDEX | 'gpu' | 'igpu' | 'cpu' | 'uuid=' HEXPREFIX | 'name=' SUBSTRING
//
// 'auto' ranks discrete GPUs over integrated GPUs over other hardware over the cpu
// backend and never picks a software device (llvmpipe, PoCL) except the cpu backend;
// naming a backend can pick its software devices.
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
  size_t position = 0;  // into the candidate list
  std::string reason;   // for the info log
};

struct SelectionContext {
  std::vector<Candidate> devices;                  // in porta::devices() order
  std::vector<std::string> known_backends;         // names a term may use
  std::map<std::string, std::string> load_errors;  // backend -> why it did not load or found nothing
};

/// Throws Error(invalid_argument) for a malformed spec and Error(backend_unavailable)
/// when nothing matches; both messages list every device found.
Selection select_device(const std::string& spec, const SelectionContext& ctx);

}  // namespace porta::detail
