// rms_norm and layer_norm over the last dim. A contiguous f32 row is read in place; other
// rows go through an f32 scratch row. Statistics: f32 vector partial sums per block, added in
// double; layer_norm's variance is a second pass over (x - mean)² (no cancellation).
#include <cmath>
#include <vector>

#include "backends/cpu/row_kernels.h"
#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

void norm(ThreadPool& pool, const NormArgs& a, bool rms) {
  const int64_t D = row_length(a.x);
  std::vector<float> w(static_cast<size_t>(D)), b;
  load_row(a.weight.dtype, a.weight.host<char>(), a.weight.strides[0], D, w.data());
  if (a.bias) {
    b.resize(static_cast<size_t>(D));
    load_row(a.bias->dtype, a.bias->host<char>(), a.bias->strides[0], D, b.data());
  }
  const RowKernels& k = row_kernels();
  const int64_t sx = row_stride(a.x), so = row_stride(a.out);
  const bool out_direct = a.out.dtype == DType::f32 && so == 1;
  for_row_blocks(pool, row_count(a.x), D, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(static_cast<size_t>(D));
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = f32_view(a.x.dtype, row_ptr(a.x, r), sx, D, scratch.data());
      char* po = row_ptr(a.out, r);
      // x may be the scratch row or (in place) the output row itself: both are element-wise safe.
      float* o = out_direct ? reinterpret_cast<float*>(po) : scratch.data();
      const double d = static_cast<double>(D);
      if (rms) {
        const float inv = static_cast<float>(1.0 / std::sqrt(k.sum_sq(x, D) / d + a.eps));
        k.norm_affine(x, 0.0f, inv, w.data(), nullptr, o, D);
      } else {
        const float mean = static_cast<float>(k.sum(x, D) / d);
        const float inv = static_cast<float>(1.0 / std::sqrt(k.sum_sq_dev(x, mean, D) / d + a.eps));
        k.norm_affine(x, mean, inv, w.data(), a.bias ? b.data() : nullptr, o, D);
      }
      if (!out_direct) store_row(a.out.dtype, po, so, D, o);
    }
  });
}

}  // namespace

void rms_norm(ThreadPool& pool, const NormArgs& a) { norm(pool, a, true); }
void layer_norm(ThreadPool& pool, const NormArgs& a) { norm(pool, a, false); }

}  // namespace porta::cpu
