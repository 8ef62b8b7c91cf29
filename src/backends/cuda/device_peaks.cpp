#include "backends/cuda/device_peaks.h"

#include "core/nominal_peaks.h"

namespace porta::cuda {

ArchRates arch_rates(int major, int minor) {
  // FP32 lanes per SM: 64 on sm_70/75/80, 128 from sm_86 on (2 FLOPs each per clock).
  // Dense f16 tensor FMAs per SM per clock: 512 on sm_70/75/86/89/120 (GeForce parts with
  // f32 accumulation run half of that), 1024 on sm_80, 2048 on sm_90, 4096 on sm_100.
  switch (major) {
    case 7: return {128.0, 1024.0};
    case 8:
      if (minor == 0) return {128.0, 2048.0};
      return {256.0, 1024.0};
    case 9: return {256.0, 4096.0};
    case 10: return {256.0, 8192.0};
    case 12: return {256.0, 2048.0};
    default: return {};
  }
}

Peaks compute_peaks(const PeakInputs& in) {
  Peaks p;
  // Capped parts (core/nominal_peaks.h): their clocks overstate them.
  const peaks::NominalPeak* pub = peaks::find_nominal_peak(in.name);
  if (pub && pub->capped) {
    p.tflops_f32 = pub->tflops_f32;
    p.tflops_f16 = in.tensor_cores_used ? pub->tflops_f16 : pub->tflops_f32;
    p.gbps = pub->gbps;
    p.source = std::string("nominal (published figures for ") + pub->model + ")";
    return p;
  }
  const ArchRates r = arch_rates(in.major, in.minor);
  const double clocks = static_cast<double>(in.sm_count) * in.sm_clock_khz * 1e3;
  p.tflops_f32 = clocks * r.f32 / 1e12;
  p.tflops_f16 = (in.tensor_cores_used ? clocks * r.tensor_f16 : clocks * r.f32) / 1e12;
  p.gbps = in.mem_clock_khz * 1e3 * 2.0 * (in.bus_width_bits / 8.0) / 1e9;
  p.source = r.f32 > 0 ? "nominal (SMs x boost clock x per-SM rate of sm_" + std::to_string(in.major) +
                             std::to_string(in.minor) + "; memory clock x 2 x bus width)"
                       : "unknown architecture sm_" + std::to_string(in.major) + std::to_string(in.minor) +
                             ": compute peaks not known; memory from clock x 2 x bus width";
  return p;
}

}  // namespace porta::cuda
