// Iteration over strided tensors of rank <= 4 as rows of the last dim, split into
// chunks across the pool. Shared by the element-wise and row-wise kernels.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/dtype_io.h"

namespace porta::cpu {

/// Byte address of the first element of row `row` (rows enumerate all dims but the last).
inline char* row_ptr(const TensorArg& t, int64_t row) {
  int64_t off = 0;
  for (int d = t.rank - 2; d >= 0; --d) {
    const int64_t i = row % t.shape[d];
    row /= t.shape[d];
    off += i * t.strides[d];
  }
  return t.host<char>() + off * static_cast<int64_t>(dtype_size(t.dtype));
}

inline int64_t row_count(const TensorArg& t) {
  int64_t r = 1;
  for (int d = 0; d + 1 < t.rank; ++d) r *= t.shape[d];
  return r;
}

inline int64_t row_length(const TensorArg& t) { return t.rank == 0 ? 1 : t.shape[t.rank - 1]; }
inline int64_t row_stride(const TensorArg& t) { return t.rank == 0 ? 1 : t.strides[t.rank - 1]; }

/// Calls fn(row, c0, c1) for every row of `shape_of` and column chunk [c0, c1), in parallel.
/// Work is split so each task touches at least ~16K elements.
template <typename Fn>
void for_each_row_chunk(ThreadPool& pool, const TensorArg& shape_of, Fn&& fn) {
  const int64_t rows = row_count(shape_of);
  const int64_t cols = row_length(shape_of);
  constexpr int64_t kMinWork = 1 << 14;
  const int64_t threads = pool.size();
  // Split long rows when there are too few rows to feed the threads.
  int64_t chunks_per_row = 1;
  if (rows < threads * 4 && cols >= 2 * kMinWork)
    chunks_per_row = std::min<int64_t>(cols / kMinWork, threads * 4);
  const int64_t chunk = (cols + chunks_per_row - 1) / chunks_per_row;
  const int64_t units = rows * chunks_per_row;
  const int64_t grain = std::max<int64_t>(1, kMinWork / std::max<int64_t>(chunk, 1));
  pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t row = u / chunks_per_row;
      const int64_t c0 = (u % chunks_per_row) * chunk;
      const int64_t c1 = std::min(cols, c0 + chunk);
      if (c0 < c1) fn(row, c0, c1);
    }
  });
}

/// Loads n elements of a strided row (element stride `stride`) into f32.
inline void load_row(DType t, const char* p, int64_t stride, int64_t n, float* out) {
  if (t == DType::f32 && stride == 1) {
    std::copy_n(reinterpret_cast<const float*>(p), n, out);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = load_f32(t, p, i * stride);
}

/// Stores n f32 values to a strided row, rounding to the row's dtype.
inline void store_row(DType t, char* p, int64_t stride, int64_t n, const float* in) {
  if (t == DType::f32 && stride == 1) {
    std::copy_n(in, n, reinterpret_cast<float*>(p));
    return;
  }
  for (int64_t i = 0; i < n; ++i) store_f32(t, p, i * stride, in[i]);
}

}  // namespace porta::cpu
