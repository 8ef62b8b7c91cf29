// Environment variables, parsed once per process (the only getenv calls in porta).
#pragma once

#include <string>
#include <vector>

#include "core/backend.h"
#include "core/comm_transport.h"

namespace porta::detail {

struct EnvOptions {
  std::string device_spec;               // PORTA_DEVICE ("" when unset)
  std::string log_level;                 // PORTA_LOG_LEVEL
  std::vector<std::string> plugin_path;  // PORTA_PLUGIN_PATH, ':'-separated
  std::string tune_cache;                // PORTA_TUNE_CACHE (reserved for porta-tune)
  backend::Options backend;              // PORTA_CPU_THREADS, PORTA_CPU_DEVICES, PORTA_<BACKEND>_<KEY>
  comm::Settings comm;                   // PORTA_COMM_*
  std::string comm_transport;            // PORTA_COMM_TRANSPORT: default transport ("auto")
  std::vector<std::string> warnings;     // malformed values, logged once the logger exists
};

/// Parsed on first use; thread safe.
const EnvOptions& env_options();

}  // namespace porta::detail
