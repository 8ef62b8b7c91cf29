// Built OpenCL programs, one per (source, build options), compiled at most once per process
// per device and kept on disk as program binaries so later processes skip the compiler.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "backends/opencl/cl_common.h"

namespace porta::opencl {

class ProgramCache {
 public:
  /// `device_key` identifies device and driver (name, vendor, driver and OpenCL versions);
  /// binaries are stored under `<cache_dir>/opencl/` keyed by it, the source and the options.
  /// An empty `cache_dir` turns the disk cache off.
  ProgramCache(cl_context ctx, cl_device_id dev, std::string device_key, std::string cache_dir);
  ~ProgramCache();
  ProgramCache(const ProgramCache&) = delete;
  ProgramCache& operator=(const ProgramCache&) = delete;

  /// The program built from common.cl + kernels/opencl/<file>.cl with `options` (-D ...).
  /// Thread safe; the program is owned by the cache. Throws Error(internal) with the build
  /// log when the device compiler rejects the source.
  cl_program get(const std::string& file, const std::string& options);

  /// Same for explicit source text (`name` labels it in errors and the cache key).
  cl_program get_source(const std::string& name, const std::string& source, const std::string& options);

  /// Counters for tests and logs: programs compiled from source / loaded from disk.
  int compiled() const { return compiled_; }
  int loaded_from_disk() const { return loaded_; }

 private:
  cl_program build(const std::string& name, const std::string& source, const std::string& options);
  cl_program try_load(const std::string& path, const std::string& options);
  void store(cl_program prog, const std::string& path);
  std::string build_log(cl_program prog) const;

  cl_context ctx_;
  cl_device_id dev_;
  std::string device_key_;
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, cl_program> programs_;
  int compiled_ = 0, loaded_ = 0;
};

/// 64-bit FNV-1a, the cache key hash (stable across runs and hosts).
uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull);

}  // namespace porta::opencl
