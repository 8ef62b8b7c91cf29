// Shared pieces of the dense row kernels (norm.cu, softmax.cu): reductions over the threads
// of one row, which are either one 32-lane group (short rows, several rows per block) or the
// whole block (long rows, one row per block): shuffles, then one shared-memory exchange.
#pragma once

#include "device_common.cuh"
#include "vector_access.cuh"

namespace porta::cuda {

/// Launch bound of a dense row kernel keeping K 16-byte vectors of dtype DT per thread:
/// more than 16 floats per thread only in blocks of <= 256 threads (the planner's rule,
/// rows_plan.cpp), so the compiler may use up to 255 registers there and never spills; the
/// 1024-thread blocks of long rows hold <= 16 floats within the 64 registers they allow.
constexpr int rows_max_threads(int dt, int k) { return k * (dt == kF32 ? 4 : 8) > 16 ? 256 : 1024; }

/// Sum over the row's threads; every one of them gets the result. `tpr` is uniform over the
/// block, so the block-wide branch is entered by all threads or none.
__device__ __forceinline__ float row_sum(float v, int tpr, float* scratch) {
  return tpr == kGroup ? group_sum(v) : block_sum(v, scratch);
}

/// NaN-propagating max over the row's threads.
__device__ __forceinline__ float row_max(float v, int tpr, float* scratch) {
  return tpr == kGroup ? group_max(v) : block_max(v, scratch);
}

}  // namespace porta::cuda
