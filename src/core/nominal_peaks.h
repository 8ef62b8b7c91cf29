// The one table of published device peaks every backend reads (header-only, so a backend
// module needs nothing new from libporta). Backends without clocks to derive peaks from
// (Vulkan, OpenCL) take any row whose model names the device; CUDA derives peaks from SMs x
// clock x per-SM rate and takes only the `capped` rows, whose parts run below what their
// clocks imply. porta-bench measures the real figures; these only scale "% of peak".
#pragma once

#include <cctype>
#include <cstring>
#include <string>

namespace porta::peaks {

struct NominalPeak {
  const char* model;  // a token of the device name: "H20" names "NVIDIA H20", not "NVIDIA H200"
  double tflops_f32;  // FP32 FMA
  double tflops_f16;  // dense f16/bf16 matrix units with f32 accumulation
  double gbps;        // memory bandwidth
  bool capped;        // export-compliant part: below what its SM count and clocks imply
};

// Datasheet figures (SXM parts; H20 from NVIDIA's published numbers: 78 SMs of Hopper at full
// clock would be ~600 TFLOP/s f16, NVIDIA publishes 148).
constexpr NominalPeak kNominalPeaks[] = {
    {"H100", 67.0, 989.0, 3350.0, false}, {"H200", 67.0, 989.0, 4800.0, false},
    {"A100", 19.5, 312.0, 2039.0, false}, {"A800", 19.5, 312.0, 2039.0, false},
    {"H20", 44.0, 148.0, 4000.0, true},
};

/// Whether `name` contains `model` as a token: not preceded by a letter or digit, not followed
/// by a digit ("H20" but not "H200"; "A100-SXM4" and "H100 PCIe" match).
inline bool names_model(const std::string& name, const char* model) {
  const size_t len = std::strlen(model);
  for (size_t pos = name.find(model); pos != std::string::npos; pos = name.find(model, pos + 1)) {
    const bool left = pos == 0 || !std::isalnum(static_cast<unsigned char>(name[pos - 1]));
    const bool right = pos + len >= name.size() || !std::isdigit(static_cast<unsigned char>(name[pos + len]));
    if (left && right) return true;
  }
  return false;
}

/// The row naming this device, or nullptr.
inline const NominalPeak* find_nominal_peak(const std::string& device_name) {
  for (const NominalPeak& p : kNominalPeaks)
    if (names_model(device_name, p.model)) return &p;
  return nullptr;
}

}  // namespace porta::peaks
