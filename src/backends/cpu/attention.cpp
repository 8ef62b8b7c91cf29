// cpu attention: chooses the split-KV decode kernel for a few query rows and the
// tiled flash kernel otherwise.
#include <cmath>

#include "backends/cpu/attention_common.h"

namespace porta::cpu {

#if defined(PORTA_CPU_X86)
namespace avx2 {
float exp_shifted(const float* s, int64_t n, float mx, float* out);  // attention_blocks_avx2.cpp
}
#endif

float exp_shifted(const float* s, int64_t n, float mx, float* out) {
#if defined(PORTA_CPU_X86)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return avx2::exp_shifted(s, n, mx, out);
#endif
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += (out[j] = std::exp(s[j] - mx));
  return sum;
}

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
