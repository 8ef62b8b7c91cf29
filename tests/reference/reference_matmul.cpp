// Reference: GEMM with broadcast batch dims and epilogue; attention with GQA,
// causal masking aligned to the end of the KV sequence, and ragged KV lengths.
#include <algorithm>
#include <cmath>

#include "reference/reference.h"

namespace porta::ref {

HostTensor gemm(const HostTensor& a, const HostTensor& b, const HostTensor& c_in,
                const std::vector<int64_t>& c_shape, double alpha, double beta, const HostTensor* bias,
                ops::Activation act) {
  HostTensor c(c_shape);
  const int64_t M = c_shape[c_shape.size() - 2], N = c_shape.back(), K = a.shape.back();
  const int64_t batches = c.numel() / (M * N);
  // Batch index of C -> batch index of A/B through broadcasting of the leading dims.
  std::vector<int64_t> c_batch(c_shape.begin(), c_shape.end() - 2);
  std::vector<int64_t> a_batch(a.shape.begin(), a.shape.end() - 2),
      b_batch(b.shape.begin(), b.shape.end() - 2);
  for (int64_t bi = 0; bi < batches; ++bi) {
    const int64_t ab = a_batch.empty() ? 0 : broadcast_index(a_batch, c_batch, bi);
    const int64_t bb = b_batch.empty() ? 0 : broadcast_index(b_batch, c_batch, bi);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += a[(ab * M + m) * K + k] * b[(bb * K + k) * N + n];
        const int64_t ci = (bi * M + m) * N + n;
        double v = alpha * acc + (beta != 0 ? beta * c_in[ci] : 0.0) + (bias ? (*bias)[n] : 0.0);
        c[ci] = activation(act, v);
      }
  }
  return c;
}

HostTensor attention(const HostTensor& q, const HostTensor& k, const HostTensor& v, bool causal, double scale,
                     const std::vector<int32_t>* kv_lens) {
  HostTensor o(q.shape);
  const int64_t B = q.shape[0], Hq = q.shape[1], Sq = q.shape[2], D = q.shape[3];
  const int64_t Hkv = k.shape[1], Skv = k.shape[2], group = Hq / Hkv;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = kv_lens ? std::clamp<int64_t>((*kv_lens)[static_cast<size_t>(b)], 0, Skv) : Skv;
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        const int64_t lim = causal ? std::clamp<int64_t>(i + (len - Sq) + 1, 0, len) : len;
        if (lim == 0) continue;  // sees no key: zeros
        const int64_t hk = h / group;
        std::vector<double> p(static_cast<size_t>(lim));
        double mx = -1e300;
        for (int64_t j = 0; j < lim; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d)
            s += q[((b * Hq + h) * Sq + i) * D + d] * k[((b * Hkv + hk) * Skv + j) * D + d];
          p[static_cast<size_t>(j)] = s * scale;
          mx = std::max(mx, s * scale);
        }
        double sum = 0;
        for (auto& e : p) sum += (e = std::exp(e - mx));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < lim; ++j)
            acc += p[static_cast<size_t>(j)] * v[((b * Hkv + hk) * Skv + j) * D + d];
          o[((b * Hq + h) * Sq + i) * D + d] = acc / sum;
        }
      }
  }
  return o;
}

}  // namespace porta::ref
