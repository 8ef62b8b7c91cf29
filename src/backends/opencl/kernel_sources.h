// Kernel sources embedded at build time from kernels/opencl/*.cl (see
// cmake/PortaEmbedOpenCL.cmake). Programs are built from common.cl followed by one file, whose
// `#include "NAME.cl"` lines ProgramCache replaces with the embedded NAME.cl (shared pieces).
#pragma once

#include <cstddef>

namespace porta::opencl {

struct KernelSource {
  const char* name;  // file name without .cl, e.g. "gemm_tiled"
  const char* text;
};

extern const KernelSource kKernelSources[];
extern const size_t kNumKernelSources;

/// The text of kernels/opencl/<name>.cl, or null when there is no such file.
inline const char* kernel_source(const char* name) {
  for (size_t i = 0; i < kNumKernelSources; ++i) {
    const char* a = kKernelSources[i].name;
    const char* b = name;
    while (*a && *a == *b) ++a, ++b;
    if (*a == 0 && *b == 0) return kKernelSources[i].text;
  }
  return nullptr;
}

}  // namespace porta::opencl
