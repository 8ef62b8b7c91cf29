// Shared pieces of the row kernels (norm.cu, softmax.cu; row indexing also elementwise.cu,
// cast_copy.cu): reductions over the threads of one row, which are either one 32-lane group (short rows,
// several rows per block) or the whole block (long rows, one row per block): shuffles, then one shared-memory
// exchange.
#pragma once

#include "device_common.cuh"
#include "vector_access.cuh"

namespace porta::cuda {

/// Launch bound of a dense row kernel keeping K 16-byte vectors of dtype DT per thread:
/// more than 16 floats per thread only in blocks of <= 256 threads (the planner's rule,
/// rows_plan.cpp), so the compiler may use up to 255 registers there and never spills; the
/// 1024-thread blocks of long rows hold <= 16 floats within the 64 registers they allow.
constexpr int rows_max_threads(int dt, int k) { return k * (dt == kF32 ? 4 : 8) > 16 ? 256 : 1024; }

/// Row r of a rank-4 shape split into its (dim 0, dim 1, dim 2) indices once, so several
/// operands' row starts cost two divisions in all (32-bit ones when the sizes allow: 64-bit
/// division is a long instruction sequence on GPUs).
struct RowIndex {
  int64_t i0, i1, i2;
};
__device__ __forceinline__ RowIndex split_row(const int64_t* shape, int64_t r) {
  if (r <= 0xffffffffLL && shape[2] <= 0xffffffffLL && shape[1] <= 0xffffffffLL) {
    const uint32_t q = uint32_t(r) / uint32_t(shape[2]), rem = uint32_t(r) - q * uint32_t(shape[2]);
    const uint32_t i0 = q / uint32_t(shape[1]);
    return {int64_t(i0), int64_t(q - i0 * uint32_t(shape[1])), int64_t(rem)};
  }
  const int64_t q = r / shape[2];
  return {q / shape[1], q % shape[1], r % shape[2]};
}
/// Offset in elements of the row `x` in `t` (0 strides broadcast).
__device__ __forceinline__ int64_t row_at(const TDesc& t, const RowIndex& x) {
  return x.i0 * t.strides[0] + x.i1 * t.strides[1] + x.i2 * t.strides[2];
}

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
