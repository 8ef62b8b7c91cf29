// Fuzzes the PORTA_DEVICE parser and matcher (core/selection.h) on synthetic device lists:
// any byte string either selects a device that one of its terms names, or throws
// porta::Error(invalid_argument | backend_unavailable) whose message starts with the spec;
// never another exception, a crash or a sanitizer report.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/selection.h"
#include "porta/error.h"

namespace {

using porta::DeviceType;
using porta::detail::Candidate;
using porta::detail::SelectionContext;

SelectionContext context(uint8_t bits) {
  const Candidate all[] = {
      {"cuda", 0, DeviceType::discrete_gpu, false, "a1b2c3d4", "NVIDIA H20"},
      {"cuda", 1, DeviceType::discrete_gpu, false, "ffee0011", "NVIDIA A800"},
      {"vulkan", 0, DeviceType::integrated_gpu, false, "a1b2c3d4", "MTT S80"},
      {"vulkan", 1, DeviceType::cpu, true, "", "llvmpipe (LLVM 15.0.6, 256 bits)"},
      {"opencl", 0, DeviceType::cpu, true, "", "pthread-haswell"},
      {"musa", 0, DeviceType::discrete_gpu, false, "0badf00d", "MTT S4000"},
      {"cpu", 0, DeviceType::cpu, true, "", "AMD EPYC"},
  };
  SelectionContext c;
  c.known_backends = {"cuda", "hip", "vulkan", "opencl", "cpu"};
  const bool musa_loaded = bits & 0x80;  // the vendor module, present on some hosts of a fleet
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i)
    if ((bits & (1u << i)) && (all[i].backend != "musa" || musa_loaded)) c.devices.push_back(all[i]);
  if (musa_loaded) c.known_backends.push_back("musa");
  c.load_errors["hip"] = "no devices: the GPU driver is missing";
  return c;
}

bool names_backend(const std::string& spec, const std::string& backend) {
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    const std::string term =
        spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (term == "auto" || term.substr(0, term.find(':')) == backend) return true;
    if (comma == std::string::npos) return false;
    start = comma + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const SelectionContext ctx = context(fdp.ConsumeIntegral<uint8_t>());
  const std::string spec = fdp.ConsumeRemainingBytesAsString();
  try {
    const auto sel = porta::detail::select_device(spec, ctx);
    if (sel.position >= ctx.devices.size()) std::abort();
    const auto& d = ctx.devices[sel.position];
    // A selected device's backend is known here and named by a term (or 'auto' picked it).
    if (std::find(ctx.known_backends.begin(), ctx.known_backends.end(), d.backend) ==
        ctx.known_backends.end())
      std::abort();
    if (!spec.empty() && !names_backend(spec, d.backend)) std::abort();
    for (const auto& note : sel.notes)
      if (note.find("passed over") == std::string::npos) std::abort();
  } catch (const porta::Error& e) {
    if (e.code() != porta::Errc::invalid_argument && e.code() != porta::Errc::backend_unavailable)
      std::abort();
    if (std::string(e.what()).rfind("PORTA_DEVICE='", 0) != 0) std::abort();
  }
  const std::string close = porta::detail::closest_name(spec, ctx.known_backends);
  if (!close.empty() &&
      std::find(ctx.known_backends.begin(), ctx.known_backends.end(), close) == ctx.known_backends.end())
    std::abort();
  return 0;
}
