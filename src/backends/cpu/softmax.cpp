// softmax over the last dim of scale*x + mask; a row with no finite input gives zeros.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void softmax(ThreadPool& pool, const SoftmaxArgs& a) {
  const int64_t rows = row_count(a.x), D = row_length(a.x);
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(D, 1));
  pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> v(static_cast<size_t>(D)), m(a.mask ? static_cast<size_t>(D) : 0);
    for (int64_t r = r0; r < r1; ++r) {
      load_row(a.x.dtype, row_ptr(a.x, r), row_stride(a.x), D, v.data());
      if (a.mask) load_row(a.mask->dtype, row_ptr(*a.mask, r), row_stride(*a.mask), D, m.data());
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < D; ++i) {
        v[i] = a.scale * v[i] + (a.mask ? m[i] : 0.0f);
        mx = std::max(mx, v[i]);
      }
      if (mx == -std::numeric_limits<float>::infinity()) {
        std::fill(v.begin(), v.end(), 0.0f);
      } else {
        double sum = 0;
        for (int64_t i = 0; i < D; ++i) {
          v[i] = std::exp(v[i] - mx);
          sum += v[i];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t i = 0; i < D; ++i) v[i] *= inv;
      }
      store_row(a.out.dtype, row_ptr(a.out, r), row_stride(a.out), D, v.data());
    }
  });
}

}  // namespace porta::cpu
