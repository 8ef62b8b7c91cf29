// embedding: row gather out[n, :] = table[ids[n], :]; an id outside [0, V) gives a row of
// zeros (documented: GPU kernels cannot throw). Bit copies, so any dtype works.
#include <algorithm>
#include <cstring>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

template <typename T>
void gather_row(const char* src, int64_t ss, char* dst, int64_t ds, int64_t n) {
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
}

template <typename T>
void zero_row(char* dst, int64_t ds, int64_t n) {
  T* d = reinterpret_cast<T*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i * ds] = T{0};
}

}  // namespace

void embedding(ThreadPool& pool, const EmbeddingArgs& e) {
  const int64_t V = e.table.shape[0], D = e.table.shape[1], N = e.ids.shape[0];
  const int64_t es = elem_size(e.table);
  const int64_t st = e.table.strides[1], so = e.out.strides[1];
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(D, 1));
  pool.parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t id = e.ids.host<int32_t>()[n * e.ids.strides[0]];
      char* po = e.out.host<char>() + n * e.out.strides[0] * es;
      if (id < 0 || id >= V) {
        if (so == 1) {
          std::memset(po, 0, static_cast<size_t>(D * es));
        } else {
          switch (es) {
            case 1: zero_row<uint8_t>(po, so, D); break;
            case 2: zero_row<uint16_t>(po, so, D); break;
            default: zero_row<uint32_t>(po, so, D); break;
          }
        }
        continue;
      }
      const char* pt = e.table.host<char>() + id * e.table.strides[0] * es;
      if (st == 1 && so == 1) {
        std::memcpy(po, pt, static_cast<size_t>(D * es));
      } else {
        switch (es) {
          case 1: gather_row<uint8_t>(pt, st, po, so, D); break;
          case 2: gather_row<uint16_t>(pt, st, po, so, D); break;
          default: gather_row<uint32_t>(pt, st, po, so, D); break;
        }
      }
    }
  });
}

}  // namespace porta::cpu
