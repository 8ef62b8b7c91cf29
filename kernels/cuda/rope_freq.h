// rope with per-pair frequency divisors (Llama 3 scaling): the divisors travel by value as a
// kernel argument. A header of its own (not kernel_args.h / launch.h) so that only rope.cu and
// its caller depend on it.
#pragma once

#include <cstdint>

#include "kernel_args.h"

namespace porta::cuda {

constexpr int kRopeMaxFactors = 128;  // rotary_dim up to 256

struct RopeFreqDiv {
  int32_t n = 0;  // 0: none; else rotary_dim/2
  float v[kRopeMaxFactors] = {};
};

int launch_rope_scaled(const RopeDesc& d, const RopeFreqDiv& f, void* stream);                             // rope.cu
int launch_rope_vec_scaled(const RopeDesc& d, const RopeLaunch& p, const RopeFreqDiv& f, void* stream);  // rope.cu

}  // namespace porta::cuda
