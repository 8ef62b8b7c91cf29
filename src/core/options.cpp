#include "core/options.h"

#include <cctype>
#include <cstdlib>
#include <string>

namespace porta::detail {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Strict non-negative integer in [lo, hi]; otherwise a warning and the fallback.
int parse_int(const char* name, int fallback, int lo, int hi, std::vector<std::string>& warnings) {
  const std::string v = env(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n < lo || n > hi) {
    warnings.push_back(std::string(name) + "='" + v + "' is not an integer in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]; using " + std::to_string(fallback));
    return fallback;
  }
  return static_cast<int>(n);
}

// Where backends keep compiled kernels (OpenCL program binaries, the Vulkan pipeline
// cache): PORTA_CACHE_DIR, else $XDG_CACHE_HOME/porta, else $HOME/.cache/porta; "off" or
// nothing found disables on-disk caches. Backends create the directory themselves.
std::string default_cache_dir() {
  std::string dir = env("PORTA_CACHE_DIR");
  if (!dir.empty()) return dir == "off" ? std::string() : dir;
  if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return xdg + "/porta";
  if (const std::string home = env("HOME"); !home.empty()) return home + "/.cache/porta";
  return std::string();
}

std::string backend_switch(const char* backend, const char* key, const char* fallback) {
  std::string name = "PORTA_";
  for (const char* p = backend; *p; ++p)
    name += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
  name += '_';
  name += key;
  const char* v = std::getenv(name.c_str());
  if (v) return std::string(v);
  // PORTA_<BACKEND>_CACHE_DIR unset: the porta-wide cache directory.
  if (std::string(key) == "CACHE_DIR") return default_cache_dir();
  return std::string(fallback ? fallback : "");
}

EnvOptions parse() {
  EnvOptions o;
  o.device_spec = env("PORTA_DEVICE");
  o.log_level = env("PORTA_LOG_LEVEL");
  o.tune_cache = env("PORTA_TUNE_CACHE");
  const std::string path = env("PORTA_PLUGIN_PATH");
  size_t start = 0;
  while (start <= path.size() && !path.empty()) {
    const size_t colon = path.find(':', start);
    const std::string dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty()) o.plugin_path.push_back(dir);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  o.backend.cpu_threads = parse_int("PORTA_CPU_THREADS", 0, 0, 4096, o.warnings);
  o.backend.cpu_devices = parse_int("PORTA_CPU_DEVICES", 1, 1, 64, o.warnings);
  o.backend.deterministic = parse_int("PORTA_DETERMINISTIC", 0, 0, 1, o.warnings) == 1;
  o.backend.get = &backend_switch;
  o.comm.timeout_s = parse_int("PORTA_COMM_TIMEOUT_S", 300, 1, 86400, o.warnings);
  o.comm.check = parse_int("PORTA_COMM_CHECK", 0, 0, 1, o.warnings) == 1;
  o.comm.chunk_bytes = static_cast<uint64_t>(parse_int("PORTA_COMM_CHUNK_KIB", 4096, 4, 1 << 20, o.warnings)) << 10;
  o.comm.nccl_library = env("PORTA_COMM_NCCL_LIBRARY");
  o.comm.nccl_prefix = env("PORTA_COMM_NCCL_PREFIX");
  o.comm_transport = env("PORTA_COMM_TRANSPORT");
  return o;
}

}  // namespace

const EnvOptions& env_options() {
  static const EnvOptions options = parse();
  return options;
}

}  // namespace porta::detail
