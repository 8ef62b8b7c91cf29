// Float64 reference of paged attention (porta/serving.h semantics), on a dequantised cache.
#include <algorithm>
#include <cmath>
#include <limits>

#include "reference/reference.h"

namespace porta::ref {

HostTensor paged_attention(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                           const std::vector<int32_t>& block_tables, int64_t max_blocks,
                           const std::vector<int32_t>& cu_seqlens_q, const std::vector<int32_t>& seq_lens,
                           int64_t max_seqlen_q, int64_t max_seqlen_k, bool causal, double scale,
                           int64_t window, const HostTensor& out_before, HostTensor* lse) {
  const int64_t T = q.shape[0], Hq = q.shape[1], D = q.shape[2];
  const int64_t nb = k.shape[0], bs = k.shape[1], Hkv = k.shape[2], group = Hq / Hkv;
  const auto B = static_cast<int64_t>(seq_lens.size());
  HostTensor o = out_before;
  const int64_t max_k = std::min(max_seqlen_k, max_blocks * bs);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t c0 = std::clamp<int64_t>(cu_seqlens_q[static_cast<size_t>(b)], 0, T);
    const int64_t c1 = std::clamp<int64_t>(cu_seqlens_q[static_cast<size_t>(b + 1)], 0, T);
    const int64_t qlen = std::clamp<int64_t>(c1 - c0, 0, std::min(max_seqlen_q, T));
    const int64_t len = std::clamp<int64_t>(seq_lens[static_cast<size_t>(b)], 0, max_k);
    for (int64_t i = 0; i < qlen; ++i) {
      const int64_t t = c0 + i, p = len - qlen + i;
      const int64_t hi = causal ? std::clamp<int64_t>(p + 1, 0, len) : len;
      const int64_t lo = window > 0 ? std::clamp<int64_t>(p - window + 1, 0, len) : 0;
      for (int64_t h = 0; h < Hq; ++h) {
        const int64_t hk = h / group;
        std::vector<double> sc;
        std::vector<int64_t> rows;  // flat [block, slot] of each visible key
        for (int64_t j = lo; j < hi; ++j) {
          const int64_t id = block_tables[static_cast<size_t>(b * max_blocks + j / bs)];
          if (id < 0 || id >= nb) continue;  // skipped block
          const int64_t base = ((id * bs + j % bs) * Hkv + hk) * D;
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += q[(t * Hq + h) * D + d] * k[base + d];
          sc.push_back(s * scale);
          rows.push_back(base);
        }
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (double s : sc) mx = std::max(mx, s);
        for (double& s : sc) sum += (s = std::exp(s - mx));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (size_t j = 0; j < sc.size(); ++j) acc += sc[j] * v[rows[j] + d];
          o[(t * Hq + h) * D + d] = sc.empty() ? 0.0 : acc / sum;
        }
        if (lse)
          (*lse)[t * Hq + h] = sc.empty() ? -std::numeric_limits<double>::infinity() : mx + std::log(sum);
      }
    }
  }
  return o;
}

}  // namespace porta::ref
