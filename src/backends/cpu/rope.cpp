// Rotary position embedding on [B, H, S, D]; angles computed in double per row.
#include <cmath>
#include <vector>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void rope(ThreadPool& pool, const RopeArgs& a) {
  const int64_t B = a.x.shape[0], H = a.x.shape[1], S = a.x.shape[2], D = a.x.shape[3];
  const int half = a.rotary_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i)
    inv_freq[static_cast<size_t>(i)] = std::pow(double(a.theta), -2.0 * i / a.rotary_dim);
  const int64_t ex = dtype_size(a.x.dtype), eo = dtype_size(a.out.dtype);
  const int64_t rows = B * H * S;
  pool.parallel_for(rows, std::max<int64_t>(1, 4096 / D), [&](int64_t r0, int64_t r1) {
    std::vector<float> v(static_cast<size_t>(D)), o(static_cast<size_t>(D));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r % S, h = (r / S) % H, b = r / (S * H);
      const char* px = a.x.host<char>() + (b * a.x.strides[0] + h * a.x.strides[1] + s * a.x.strides[2]) * ex;
      char* po =
          a.out.host<char>() + (b * a.out.strides[0] + h * a.out.strides[1] + s * a.out.strides[2]) * eo;
      const int32_t pos = *reinterpret_cast<const int32_t*>(
          a.positions.host<char>() + (b * a.positions.strides[0] + s * a.positions.strides[1]) * 4);
      load_row(a.x.dtype, px, a.x.strides[3], D, v.data());
      o = v;
      for (int i = 0; i < half; ++i) {
        const double ang = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
        const float c = static_cast<float>(std::cos(ang)), sn = static_cast<float>(std::sin(ang));
        const int64_t i0 = a.style == ops::RopeStyle::neox ? i : 2 * i;
        const int64_t i1 = a.style == ops::RopeStyle::neox ? i + half : 2 * i + 1;
        o[i0] = v[i0] * c - v[i1] * sn;
        o[i1] = v[i1] * c + v[i0] * sn;
      }
      store_row(a.out.dtype, po, a.out.strides[3], D, o.data());
    }
  });
}

}  // namespace porta::cpu
