// Rotary position embedding on [B, H, S, D]. Work is split over (batch, position) units;
// each unit computes its cos/sin once (angle in double, then float) and rotates all H heads
// (and all B batches when positions are shared). Elements past rotary_dim are copied.
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/row_kernels.h"
#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void rope(ThreadPool& pool, const RopeArgs& a) {
  const int64_t B = a.x.shape[0], H = a.x.shape[1], S = a.x.shape[2], D = a.x.shape[3];
  const int64_t half = a.rotary_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[static_cast<size_t>(i)] =
        std::pow(static_cast<double>(a.theta), -2.0 * static_cast<double>(i) / a.rotary_dim) /
        (a.freq_factors ? static_cast<double>(a.freq_factors[i]) : 1.0);
  const bool shared = a.positions.strides[0] == 0;  // one position row for every batch
  const int64_t units = (shared ? 1 : B) * S;
  const int64_t rows_per_unit = (shared ? B : 1) * H;
  const int64_t ex = elem_size(a.x), eo = elem_size(a.out);
  const int64_t sx = a.x.strides[3], so = a.out.strides[3];
  const bool x_direct = a.x.dtype == DType::f32 && sx == 1;
  const bool out_direct = a.out.dtype == DType::f32 && so == 1;
  const RowKernels& k = row_kernels();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 13) / std::max<int64_t>(rows_per_unit * D, 1));
  pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half)),
        xs(static_cast<size_t>(D)), os(static_cast<size_t>(D));
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t s = u % S, b_unit = u / S;
      const int32_t pos = *reinterpret_cast<const int32_t*>(
          a.positions.host<char>() + (b_unit * a.positions.strides[0] + s * a.positions.strides[1]) * 4);
      for (int64_t i = 0; i < half; ++i) {
        const double ang = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
        cs[static_cast<size_t>(i)] = static_cast<float>(std::cos(ang));
        sn[static_cast<size_t>(i)] = static_cast<float>(std::sin(ang));
      }
      for (int64_t r = 0; r < rows_per_unit; ++r) {
        const int64_t h = r % H, b = shared ? r / H : b_unit;
        const char* px =
            a.x.host<char>() + (b * a.x.strides[0] + h * a.x.strides[1] + s * a.x.strides[2]) * ex;
        char* po =
            a.out.host<char>() + (b * a.out.strides[0] + h * a.out.strides[1] + s * a.out.strides[2]) * eo;
        if (x_direct && out_direct) {
          // Pairs are read before they are written, so out == x works in place.
          k.rope(reinterpret_cast<const float*>(px), cs.data(), sn.data(), half,
                 a.style == ops::RopeStyle::neox, reinterpret_cast<float*>(po));
          if (D > 2 * half && po != px)
            std::memcpy(po + 2 * half * 4, px + 2 * half * 4, static_cast<size_t>((D - 2 * half) * 4));
          continue;
        }
        const float* x = f32_view(a.x.dtype, px, sx, D, xs.data());
        k.rope(x, cs.data(), sn.data(), half, a.style == ops::RopeStyle::neox, os.data());
        std::copy(x + 2 * half, x + D, os.data() + 2 * half);
        store_row(a.out.dtype, po, so, D, os.data());
      }
    }
  });
}

}  // namespace porta::cpu
