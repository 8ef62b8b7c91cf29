// Picks the baseline library for the selected device's backend.
#include "baseline.h"

#include <chrono>

namespace porta_bench {

double BaselineCase::timed_run_seconds() {
  const auto t0 = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void prepare_baseline_process(char** argv) {
#if defined(PORTA_BENCH_HAVE_OPENBLAS)
  prepare_openblas_process(argv);
#else
  (void)argv;
#endif
}

std::unique_ptr<Baseline> make_baseline(const porta::Device& device, int threads) {
  const std::string& backend = device.info().backend;
#if defined(PORTA_BENCH_HAVE_OPENBLAS)
  // OpenBLAS is the reference for the cpu backend only: comparing it with a GPU
  // (or a software GPU like lavapipe) would compare different devices.
  if (backend == "cpu") return make_openblas_baseline(threads);
#endif
#if defined(PORTA_BENCH_HAVE_VULKAN_NAIVE)
  // lavapipe and GPUs without a vendor BLAS: the naive kernel on the same device.
  if (backend == "vulkan") return make_vulkan_naive_baseline(device);
#endif
#if defined(PORTA_BENCH_HAVE_CLBLAST)
  if (backend == "opencl") return make_clblast_baseline(device);
#endif
#if defined(PORTA_BENCH_HAVE_CUBLAS)
  if (backend == "cuda") return make_cublas_baseline(device);
#endif
  (void)backend;
  (void)threads;
  return nullptr;  // cuBLAS (cuda) plugs in here.
}

}  // namespace porta_bench
