#include "backends/opencl/program_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "backends/opencl/kernel_sources.h"
#include "core/backend.h"

namespace porta::opencl {

namespace {

constexpr char kMagic[8] = {'P', 'O', 'R', 'T', 'A', 'C', 'L', '1'};

// mkdir -p; failures surface later as an unwritable cache entry (logged, not fatal).
void make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string part = path.substr(0, i);
      if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return;
    }
  }
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

uint64_t fnv1a(const std::string& s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

ProgramCache::ProgramCache(cl_context ctx, cl_device_id dev, std::string device_key, std::string cache_dir)
    : ctx_(ctx), dev_(dev), device_key_(std::move(device_key)) {
  if (!cache_dir.empty()) dir_ = cache_dir + "/opencl";
}

ProgramCache::~ProgramCache() {
  for (auto& kv : programs_) clReleaseProgram(kv.second);
}

namespace {

/// `text` with each line `#include "NAME.cl"` replaced by the embedded kernels/opencl/NAME.cl
/// (one level: shared pieces include nothing), `#line` directives keeping compiler messages
/// on the right lines. The device compiler never sees the directive: it has no file system
/// to resolve it against, the sources live in this binary.
std::string expand_includes(const std::string& file, const char* text) {
  static const std::string kDirective = "#include \"";
  std::string out;
  size_t pos = 0, line = 1;
  const std::string src(text);
  while (pos < src.size()) {
    size_t eol = src.find('\n', pos);
    if (eol == std::string::npos) eol = src.size();
    const std::string ln = src.substr(pos, eol - pos);
    const size_t close = ln.rfind(".cl\"");
    if (ln.compare(0, kDirective.size(), kDirective) == 0 && close != std::string::npos &&
        close > kDirective.size()) {
      const std::string name = ln.substr(kDirective.size(), close - kDirective.size());
      const char* piece = kernel_source(name.c_str());
      if (!piece)
        throw Error(Errc::internal,
                    "opencl: " + file + ".cl includes '" + name + ".cl', which is not embedded");
      out += "#line 1\n";
      out += piece;
      out += "\n#line " + std::to_string(line + 1) + "\n";
    } else {
      out += ln;
      out += '\n';
    }
    pos = eol + 1;
    ++line;
  }
  return out;
}

}  // namespace

cl_program ProgramCache::get(const std::string& file, const std::string& options) {
  const char* common = kernel_source("common");
  const char* text = kernel_source(file.c_str());
  if (!common || !text)
    throw Error(Errc::internal, "opencl: kernel source '" + file + ".cl' is not embedded in this build");
  return get_source(file, std::string(common) + "\n#line 1\n" + expand_includes(file, text), options);
}

cl_program ProgramCache::get_source(const std::string& name, const std::string& source,
                                    const std::string& options) {
  const std::string key = name + '\n' + options + '\n' + hex(fnv1a(source));
  std::lock_guard<std::mutex> lock(mu_);  // compiles are serialised: each program is built once
  auto it = programs_.find(key);
  if (it != programs_.end()) return it->second;
  cl_program prog = nullptr;
  std::string path;
  if (!dir_.empty()) {
    path = dir_ + "/" + name + "-" + hex(fnv1a(source + '\n' + options, fnv1a(device_key_))) + ".bin";
    prog = try_load(path, options);
    if (prog) ++loaded_;
  }
  if (!prog) {
    prog = build(name, source, options);
    ++compiled_;
    if (!path.empty()) store(prog, path);
  }
  programs_.emplace(key, prog);
  return prog;
}

cl_program ProgramCache::build(const std::string& name, const std::string& source,
                               const std::string& options) {
  const char* src = source.c_str();
  const size_t len = source.size();
  cl_int st = CL_SUCCESS;
  cl_program prog = clCreateProgramWithSource(ctx_, 1, &src, &len, &st);
  check(st, ("creating program '" + name + "'").c_str());
  st = clBuildProgram(prog, 1, &dev_, options.c_str(), nullptr, nullptr);
  if (st != CL_SUCCESS) {
    const std::string log = build_log(prog);
    clReleaseProgram(prog);
    if (errc_for(st) == Errc::out_of_memory) throw_cl(st, "building kernel program '" + name + "'");
    throw Error(Errc::internal,
                "opencl: building kernel program '" + name + "' with options '" + options + "' failed (" +
                    cl_status_name(st) + "); build log:\n" + log +
                    "\nThis is a porta or device-compiler bug: please report it with the log; "
                    "PORTA_OPENCL_CACHE_DIR= (empty) rules out a stale binary cache");
  }
  backend::log(backend::LogLevel::debug, "opencl: compiled program '" + name + "' (" + options + ")");
  return prog;
}

std::string ProgramCache::build_log(cl_program prog) const {
  size_t n = 0;
  if (clGetProgramBuildInfo(prog, dev_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS || n == 0)
    return "(no build log)";
  std::string log(n, '\0');
  if (clGetProgramBuildInfo(prog, dev_, CL_PROGRAM_BUILD_LOG, n, &log[0], nullptr) != CL_SUCCESS)
    return "(no build log)";
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

cl_program ProgramCache::try_load(const std::string& path, const std::string& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  char magic[8];
  uint64_t size = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0 ||
      !in.read(reinterpret_cast<char*>(&size), sizeof size) || size == 0 || size > (1ull << 30)) {
    backend::log(backend::LogLevel::debug, "opencl: ignoring corrupt cache entry " + path);
    return nullptr;
  }
  std::vector<unsigned char> bin(size);
  if (!in.read(reinterpret_cast<char*>(bin.data()), static_cast<std::streamsize>(size))) {
    backend::log(backend::LogLevel::debug, "opencl: ignoring truncated cache entry " + path);
    return nullptr;
  }
  const unsigned char* ptr = bin.data();
  const size_t len = bin.size();
  cl_int bin_status = CL_SUCCESS, st = CL_SUCCESS;
  cl_program prog = clCreateProgramWithBinary(ctx_, 1, &dev_, &len, &ptr, &bin_status, &st);
  if (st != CL_SUCCESS || bin_status != CL_SUCCESS) {
    if (prog) clReleaseProgram(prog);
    backend::log(backend::LogLevel::debug, "opencl: cache entry " + path + " rejected by the driver");
    return nullptr;
  }
  if (clBuildProgram(prog, 1, &dev_, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
    clReleaseProgram(prog);
    backend::log(backend::LogLevel::debug, "opencl: cache entry " + path + " failed to build");
    return nullptr;
  }
  return prog;
}

void ProgramCache::store(cl_program prog, const std::string& path) {
  size_t size = 0;
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) != CL_SUCCESS || size == 0)
    return;
  std::vector<unsigned char> bin(size);
  unsigned char* ptr = bin.data();
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr) != CL_SUCCESS) return;
  make_dirs(dir_);
  // Write to a private temporary, then rename: readers never see a partial file.
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const uint64_t n = size;
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(bin.data()), static_cast<std::streamsize>(size));
    if (!out) {
      backend::log(backend::LogLevel::debug, "opencl: cannot write program cache " + tmp);
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

}  // namespace porta::opencl
