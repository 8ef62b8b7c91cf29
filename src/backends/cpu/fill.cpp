// fill: the value is converted once (rounded/saturated to dst's dtype), then its bytes are
// replicated; contiguous runs (after merging dims) are filled as typed arrays.
#include <algorithm>
#include <cstring>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

template <typename T>
void fill_run(char* p, int64_t stride, int64_t n, const unsigned char* pattern) {
  T v;
  std::memcpy(&v, pattern, sizeof(T));
  T* d = reinterpret_cast<T*>(p);
  if (stride == 1) {
    std::fill_n(d, n, v);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i * stride] = v;
  }
}

}  // namespace

void fill(ThreadPool& pool, const FillArgs& f) {
  TensorArg dst = f.dst;
  TensorArg* ts[1] = {&dst};
  coalesce_dims(ts, 1);
  const int64_t es = elem_size(dst), s = row_stride(dst);
  unsigned char pattern[8] = {};
  if (dst.dtype == DType::f16 || dst.dtype == DType::bf16)  // one rounding from double, not two
    store_f32(dst.dtype, pattern, 0, f32_round_to_odd(f.value));
  else
    store_from_double(dst.dtype, pattern, 0, f.value);
  const bool zero = std::all_of(pattern, pattern + es, [](unsigned char c) { return c == 0; });
  for_each_row_chunk(pool, dst, [&](int64_t row, int64_t c0, int64_t c1) {
    char* p = row_ptr(dst, row) + c0 * s * es;
    const int64_t n = c1 - c0;
    if (s == 1 && (zero || es == 1)) {
      std::memset(p, pattern[0], static_cast<size_t>(n * es));
      return;
    }
    switch (es) {
      case 1: fill_run<uint8_t>(p, s, n, pattern); break;
      case 2: fill_run<uint16_t>(p, s, n, pattern); break;
      default: fill_run<uint32_t>(p, s, n, pattern); break;
    }
  });
}

}  // namespace porta::cpu
