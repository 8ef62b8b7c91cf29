// softmax over the last dim of scale*x + mask. Three passes over an f32 row (the output
// row itself when it is contiguous f32): scale+mask+max, exp+sum, normalise. A row with
// no finite input (all -inf after masking) gives zeros; a NaN anywhere gives a NaN row.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/row_kernels.h"
#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void softmax(ThreadPool& pool, const SoftmaxArgs& a) {
  const int64_t D = row_length(a.x);
  const RowKernels& k = row_kernels();
  const int64_t sx = row_stride(a.x), so = row_stride(a.out);
  const int64_t sm = a.mask ? row_stride(*a.mask) : 0;
  const bool out_direct = a.out.dtype == DType::f32 && so == 1;
  for_row_blocks(pool, row_count(a.x), D, [&](int64_t r0, int64_t r1) {
    std::vector<float> xs(static_cast<size_t>(D)), ms(a.mask ? static_cast<size_t>(D) : 0),
        os(out_direct ? 0 : static_cast<size_t>(D));
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = f32_view(a.x.dtype, row_ptr(a.x, r), sx, D, xs.data());
      const float* m = a.mask ? f32_view(a.mask->dtype, row_ptr(*a.mask, r), sm, D, ms.data()) : nullptr;
      char* po = row_ptr(a.out, r);
      float* o = out_direct ? reinterpret_cast<float*>(po) : os.data();
      // o may be x itself (in place): every pass is element-wise.
      const float mx = k.scale_add_max(x, a.scale, m, o, D);
      if (mx == -std::numeric_limits<float>::infinity()) {
        std::fill_n(o, D, 0.0f);
      } else {
        const double sum = k.exp_sum(o, mx, o, D);
        k.scale(o, static_cast<float>(1.0 / sum), o, D);
      }
      if (!out_direct) store_row(a.out.dtype, po, so, D, o);
    }
  });
}

}  // namespace porta::cpu
