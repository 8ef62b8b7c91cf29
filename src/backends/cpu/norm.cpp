// rms_norm and layer_norm over the last dim: one row at a time, f32 math with
// double accumulation of the statistics (rows can be long and sums cancel).
#include <cmath>
#include <vector>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

template <typename RowFn>
void for_each_row(ThreadPool& pool, const TensorArg& x, RowFn&& fn) {
  const int64_t rows = row_count(x), cols = row_length(x);
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1));
  pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) fn(r, buf.data());
  });
}

void norm(ThreadPool& pool, const NormArgs& a, bool rms) {
  const int64_t D = row_length(a.x);
  std::vector<float> w(static_cast<size_t>(D)), b;
  load_row(a.weight.dtype, a.weight.host<char>(), a.weight.strides[0], D, w.data());
  if (a.bias) {
    b.resize(static_cast<size_t>(D));
    load_row(a.bias->dtype, a.bias->host<char>(), a.bias->strides[0], D, b.data());
  }
  for_each_row(pool, a.x, [&](int64_t r, float* v) {
    load_row(a.x.dtype, row_ptr(a.x, r), row_stride(a.x), D, v);
    if (rms) {
      double ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(v[i]) * v[i];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(D) + a.eps));
      for (int64_t i = 0; i < D; ++i) v[i] = v[i] * inv * w[static_cast<size_t>(i)];
    } else {
      double sum = 0;
      for (int64_t i = 0; i < D; ++i) sum += v[i];
      const double mean = sum / static_cast<double>(D);
      double var = 0;
      for (int64_t i = 0; i < D; ++i) var += (v[i] - mean) * (v[i] - mean);
      const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(D) + a.eps));
      const float m = static_cast<float>(mean);
      for (int64_t i = 0; i < D; ++i) {
        v[i] = (v[i] - m) * inv * w[static_cast<size_t>(i)];
        if (a.bias) v[i] += b[static_cast<size_t>(i)];
      }
    }
    store_row(a.out.dtype, row_ptr(a.out, r), row_stride(a.out), D, v);
  });
}

}  // namespace

void rms_norm(ThreadPool& pool, const NormArgs& a) { norm(pool, a, true); }
void layer_norm(ThreadPool& pool, const NormArgs& a) { norm(pool, a, false); }

}  // namespace porta::cpu
