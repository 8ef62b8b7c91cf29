// The OpenCL backend object: finds every device of every platform through the ICD loader.
#include "core/backend.h"

#include <memory>
#include <string>
#include <vector>

#include "backends/opencl/device.h"

namespace porta::opencl {
namespace {

using backend::LogLevel;

class ClBackend final : public backend::Backend {
 public:
  const char* name() const override { return "opencl"; }

  std::vector<std::unique_ptr<backend::Device>> enumerate(const backend::Options& opts) override {
    std::vector<std::unique_ptr<backend::Device>> out;
    const std::string cache_dir = opts.get ? opts.get("opencl", "CACHE_DIR", "") : "";
    const std::string gemm_tile = opts.get ? opts.get("opencl", "GEMM_TILE", "") : "";
    const std::string dev_class = opts.get ? opts.get("opencl", "DEVICE_CLASS", "auto") : "auto";
    if (dev_class != "auto" && dev_class != "cpu" && dev_class != "gpu")
      throw Error(Errc::invalid_argument,
                  "PORTA_OPENCL_DEVICE_CLASS='" + dev_class + "' is not one of auto, cpu, gpu");
    cl_uint np = 0;
    cl_int st = clGetPlatformIDs(0, nullptr, &np);
    if (st != CL_SUCCESS || np == 0) {
      notes_.push_back("opencl: no OpenCL platform found (" + cl_status_name(st) +
                       "); install an ICD such as pocl-opencl-icd or the GPU vendor's OpenCL driver");
      return out;
    }
    std::vector<cl_platform_id> platforms(np);
    clGetPlatformIDs(np, platforms.data(), nullptr);
    for (cl_platform_id p : platforms) {
      const std::string pname = platform_string(p, CL_PLATFORM_NAME);
      cl_uint nd = 0;
      if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) {
        notes_.push_back("opencl: platform '" + pname + "' has no devices");
        continue;
      }
      std::vector<cl_device_id> devs(nd);
      clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devs.data(), nullptr);
      for (cl_device_id d : devs) {
        const std::string dname = device_string(d, CL_DEVICE_NAME);
        if (!device_value<cl_bool>(d, CL_DEVICE_AVAILABLE) ||
            !device_value<cl_bool>(d, CL_DEVICE_COMPILER_AVAILABLE)) {
          notes_.push_back("opencl: skipped '" + dname + "' on '" + pname +
                           "': device unavailable or without an online compiler");
          continue;
        }
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(p), 0};
        cl_int cst = CL_SUCCESS;
        cl_context ctx = clCreateContext(props, 1, &d, nullptr, nullptr, &cst);
        if (cst != CL_SUCCESS) {
          notes_.push_back("opencl: skipped '" + dname + "': clCreateContext failed with " +
                           cl_status_name(cst));
          continue;
        }
        auto dev = std::make_unique<ClDevice>(p, d, ctx, cache_dir, gemm_tile, dev_class, opts.deterministic);
        backend::log(LogLevel::debug, "opencl: found '" + dname + "' (" + dev->info().driver + ")");
        out.push_back(std::move(dev));
      }
    }
    return out;
  }

  std::vector<std::string> diagnostics() const override { return notes_; }

 private:
  std::vector<std::string> notes_;
};

backend::Backend* create() { return new ClBackend(); }

}  // namespace
}  // namespace porta::opencl

PORTA_DEFINE_BACKEND(opencl, porta::opencl::create)
