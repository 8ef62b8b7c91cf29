// Peak estimates of a CUDA device from what the runtime reports (SM count, clocks, bus
// width, compute capability): plain C++ so it is unit-tested without a GPU.
#pragma once

#include <string>

namespace porta::cuda {

/// Per-SM throughput of one architecture, in FLOPs per SM per clock (an FMA counts 2).
struct ArchRates {
  double f32 = 0;         // FP32 FMA pipes
  double tensor_f16 = 0;  // dense f16/bf16 tensor-core math with f32 accumulation
};

/// Rates by compute capability (major.minor); zeros for an unknown architecture.
ArchRates arch_rates(int major, int minor);

struct PeakInputs {
  std::string name;
  int major = 0, minor = 0;
  int sm_count = 0;
  double sm_clock_khz = 0;        // cudaDevAttrClockRate
  double mem_clock_khz = 0;       // cudaDevAttrMemoryClockRate (DDR: two transfers per clock)
  int bus_width_bits = 0;         // cudaDevAttrGlobalMemoryBusWidth
  bool tensor_cores_used = true;  // false for dialects whose matrix units porta does not drive
};

struct Peaks {
  double tflops_f32 = 0, tflops_f16 = 0, gbps = 0;
  std::string source;  // what the numbers were derived from
};

/// SMs x clock x per-SM rate, and memory clock x 2 x bus width; capped parts whose clocks
/// do not say their limits (H20) come from a small table of published figures.
Peaks compute_peaks(const PeakInputs& in);

}  // namespace porta::cuda
