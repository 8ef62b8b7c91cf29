// argmax over the last dim: first index of the maximum; a NaN counts as the maximum.
#include <cmath>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void argmax(ThreadPool& pool, const ArgmaxArgs& a) {
  const int64_t R = a.x.shape[0], C = a.x.shape[1];
  pool.parallel_for(R, std::max<int64_t>(1, (1 << 14) / C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const char* p = a.x.host<char>() + r * a.x.strides[0] * static_cast<int64_t>(dtype_size(a.x.dtype));
      int64_t best = 0;
      double bv = load_as_double(a.x.dtype, p, 0);
      for (int64_t c = 1; c < C && !std::isnan(bv); ++c) {
        const double v = load_as_double(a.x.dtype, p, static_cast<size_t>(c * a.x.strides[1]));
        if (v > bv || std::isnan(v)) {
          bv = v;
          best = c;
        }
      }
      a.out.host<int32_t>()[r * a.out.strides[0]] = static_cast<int32_t>(best);
    }
  });
}

}  // namespace porta::cpu
