// fill: the value is converted once, then its bytes are replicated.
#include <cstring>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void fill(ThreadPool& pool, const FillArgs& f) {
  const int64_t es = dtype_size(f.dst.dtype);
  unsigned char pattern[8];
  store_from_double(f.dst.dtype, pattern, 0, f.value);
  for_each_row_chunk(pool, f.dst, [&](int64_t row, int64_t c0, int64_t c1) {
    const int64_t s = row_stride(f.dst);
    char* p = row_ptr(f.dst, row) + c0 * s * es;
    const int64_t n = c1 - c0;
    if (es == 1 && s == 1) {
      std::memset(p, pattern[0], static_cast<size_t>(n));
      return;
    }
    for (int64_t i = 0; i < n; ++i) std::memcpy(p + i * s * es, pattern, static_cast<size_t>(es));
  });
}

}  // namespace porta::cpu
