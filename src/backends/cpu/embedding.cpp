// embedding: row gather; an id outside [0, V) gives a row of zeros (GPU kernels cannot throw).
#include <cstring>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {

void embedding(ThreadPool& pool, const EmbeddingArgs& e) {
  const int64_t V = e.table.shape[0], D = e.table.shape[1], N = e.ids.shape[0];
  const int64_t es = dtype_size(e.table.dtype);
  pool.parallel_for(N, std::max<int64_t>(1, 4096 / D), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int32_t id = e.ids.host<int32_t>()[n * e.ids.strides[0]];
      char* po = e.out.host<char>() + n * e.out.strides[0] * es;
      const int64_t so = e.out.strides[1];
      if (id < 0 || id >= V) {
        for (int64_t d = 0; d < D; ++d) std::memset(po + d * so * es, 0, static_cast<size_t>(es));
        continue;
      }
      const char* pt = e.table.host<char>() + id * e.table.strides[0] * es;
      const int64_t st = e.table.strides[1];
      if (st == 1 && so == 1) {
        std::memcpy(po, pt, static_cast<size_t>(D * es));
      } else {
        for (int64_t d = 0; d < D; ++d)
          std::memcpy(po + d * so * es, pt + d * st * es, static_cast<size_t>(es));
      }
    }
  });
}

}  // namespace porta::cpu
