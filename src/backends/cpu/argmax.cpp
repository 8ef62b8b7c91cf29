// argmax over the last dim: first index of the maximum; a NaN counts as larger than any
// number, so the first NaN wins (as numpy). Float rows are scanned as f32 (exact for f16/bf16),
// integer rows in their own type (i32 does not fit in f32).
#include <cmath>
#include <vector>

#include "backends/cpu/row_kernels.h"
#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

template <typename I>
int64_t argmax_int(const char* p, int64_t stride, int64_t n) {
  const I* x = reinterpret_cast<const I*>(p);
  int64_t best = 0;
  I bv = x[0];
  for (int64_t i = 1; i < n; ++i) {
    if (x[i * stride] > bv) {
      bv = x[i * stride];
      best = i;
    }
  }
  return best;
}

}  // namespace

void argmax(ThreadPool& pool, const ArgmaxArgs& a) {
  const int64_t R = a.x.shape[0], C = a.x.shape[1], sc = a.x.strides[1];
  const int64_t ex = elem_size(a.x);
  const RowKernels& k = row_kernels();
  // Long rows are read in pieces of kPiece so the f32 scratch stays in cache.
  constexpr int64_t kPiece = 1 << 14;
  for_row_blocks(pool, R, C, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(static_cast<size_t>(std::min(C, kPiece)));
    for (int64_t r = r0; r < r1; ++r) {
      const char* p = a.x.host<char>() + r * a.x.strides[0] * ex;
      int64_t best = 0;
      if (a.x.dtype == DType::i8) {
        best = argmax_int<int8_t>(p, sc, C);
      } else if (a.x.dtype == DType::i32) {
        best = argmax_int<int32_t>(p, sc, C);
      } else {
        float bv = 0;
        for (int64_t c0 = 0; c0 < C; c0 += kPiece) {
          const int64_t n = std::min(kPiece, C - c0);
          const float* x = f32_view(a.x.dtype, p + c0 * sc * ex, sc, n, scratch.data());
          const int64_t i = k.argmax(x, n);
          if (c0 == 0 || std::isnan(x[i]) || x[i] > bv) {
            best = c0 + i;
            bv = x[i];
          }
          if (std::isnan(bv)) break;
        }
      }
      a.out.host<int32_t>()[r * a.out.strides[0]] = static_cast<int32_t>(best);
    }
  });
}

}  // namespace porta::cpu
