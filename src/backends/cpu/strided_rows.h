// Iteration over strided tensors of rank <= 4 as rows of the last dim, split into
// chunks across the pool, and conversion of such rows to and from f32. Shared by the
// element-wise and row-wise kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backends/cpu/convert.h"
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
inline int64_t elem_size(const TensorArg& t) { return static_cast<int64_t>(dtype_size(t.dtype)); }

/// Merges dims of tensors that share one shape (out first, then broadcast inputs) wherever
/// every tensor walks them as one: extents of 1 are dropped and dim d folds into d+1 when
/// stride[d] == stride[d+1] * shape[d+1] for all. A contiguous tensor becomes one long row.
inline void coalesce_dims(TensorArg* const* ts, int count) {
  TensorArg& ref = *ts[0];
  int rank = 0;
  int64_t shape[4] = {1, 1, 1, 1};
  int64_t strides[3][4] = {};
  for (int d = 0; d < ref.rank; ++d) {
    if (ref.shape[d] == 1) continue;
    bool merge = rank > 0;
    for (int k = 0; k < count && merge; ++k) merge = strides[k][rank - 1] == ts[k]->strides[d] * ref.shape[d];
    if (merge) {
      shape[rank - 1] *= ref.shape[d];
      for (int k = 0; k < count; ++k) strides[k][rank - 1] = ts[k]->strides[d];
    } else {
      shape[rank] = ref.shape[d];
      for (int k = 0; k < count; ++k) strides[k][rank] = ts[k]->strides[d];
      ++rank;
    }
  }
  if (rank == 0) {  // every extent is 1
    shape[0] = 1;
    for (int k = 0; k < count; ++k) strides[k][0] = 1;
    rank = 1;
  }
  for (int k = 0; k < count; ++k) {
    ts[k]->rank = rank;
    for (int d = 0; d < 4; ++d) {
      ts[k]->shape[d] = d < rank ? shape[d] : 1;
      ts[k]->strides[d] = d < rank ? strides[k][d] : 0;
    }
  }
}

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

/// Calls fn(r0, r1) over blocks of whole rows in parallel, at least ~16K elements per task.
template <typename Fn>
void for_row_blocks(ThreadPool& pool, int64_t rows, int64_t cols, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(cols, 1));
  pool.parallel_for(rows, grain, fn);
}

/// Loads n float-dtype (f32/f16/bf16) elements of a row (element stride `stride`, 0 =
/// broadcast) into f32.
inline void load_row(DType t, const char* p, int64_t stride, int64_t n, float* out) {
  if (stride == 1) {
    convert_row_to_f32(t, p, out, n);
  } else if (stride == 0) {
    std::fill_n(out, n, load_f32(t, p, 0));
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = load_f32(t, p, i * stride);
  }
}

/// Stores n f32 values to a float-dtype row, rounding to the row's dtype.
inline void store_row(DType t, char* p, int64_t stride, int64_t n, const float* in) {
  if (stride == 1) {
    convert_row_from_f32(t, in, p, n);
    return;
  }
  switch (t) {
    case DType::f32:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<float*>(p)[i * stride] = in[i];
      break;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(p)[i * stride] = float_to_f16(in[i]);
      break;
    default:
      for (int64_t i = 0; i < n; ++i) store_f32(t, p, i * stride, in[i]);
      break;
  }
}

/// A row as contiguous f32: the row itself when it is contiguous f32 (no copy), else `scratch`
/// filled from it.
inline const float* f32_view(DType t, const char* p, int64_t stride, int64_t n, float* scratch) {
  if (t == DType::f32 && stride == 1) return reinterpret_cast<const float*>(p);
  load_row(t, p, stride, n, scratch);
  return scratch;
}

}  // namespace porta::cpu
