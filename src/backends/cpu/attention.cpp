// cpu attention: chooses the split-KV decode kernel for a few query rows and the
// tiled flash kernel otherwise.
#include <cmath>

#include "backends/cpu/attention_common.h"

namespace porta::cpu {

void attention(ThreadPool& pool, const AttentionArgs& a) {
  // Decode reads K/V once per query group and is memory-bound; prefill re-reads packed
  // K/V tiles many times and is compute-bound.
  constexpr int64_t kDecodeMaxQueries = 4;
  if (a.q.shape[2] <= kDecodeMaxQueries)
    attention_decode(pool, a);
  else
    attention_prefill(pool, a);
}

}  // namespace porta::cpu
