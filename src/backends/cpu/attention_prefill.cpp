// Flash-style prefill: K and V of each (batch, kv head) are packed once into the GEMM
// micro-kernel's panel layout; each task takes a block of queries of one head and walks
// the key blocks with an online softmax. S = Q·Kᵀ and O += P·V both run on the GEMM
// micro-kernel, and no Sq x Skv matrix is ever stored.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/attention_common.h"
#include "backends/cpu/gemm_kernels.h"

namespace porta::cpu {
namespace {

constexpr int64_t kKeyBlock = 64;  // keys per step (4 micro-panels of 16)

struct Packed {
  int64_t keys_padded;
  std::vector<float> k, v;  // per (b, hkv): K as [keys/NR][D][NR], V as [D/NR][keys][NR]
};

void pack_kv(ThreadPool& pool, const GemmKernels& K, const AttentionArgs& a, Packed& p) {
  const int64_t B = a.k.shape[0], H = a.k.shape[1], S = a.k.shape[2], D = a.k.shape[3];
  const int64_t nr = K.tiles.nr;
  p.keys_padded = (S + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  const int64_t per = p.keys_padded * D;
  p.k.assign(static_cast<size_t>(B * H * per), 0.0f);
  p.v.assign(static_cast<size_t>(B * H * per), 0.0f);
  pool.parallel_for(B * H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> row(static_cast<size_t>(D));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / H, h = t % H;
      float* kp = p.k.data() + t * per;
      float* vp = p.v.data() + t * per;
      for (int64_t s = 0; s < S; ++s) {
        const char* kr = attn_row(a.k, b, h, s);
        if (a.k.strides[3] == 1)
          K.to_f32(a.k.dtype, kr, row.data(), D);
        else
          for (int64_t d = 0; d < D; ++d)
            row[static_cast<size_t>(d)] = load_f32(a.k.dtype, kr, d * a.k.strides[3]);
        float* kpanel = kp + (s / nr) * D * nr + (s % nr);
        for (int64_t d = 0; d < D; ++d) kpanel[d * nr] = row[static_cast<size_t>(d)];
        const char* vr = attn_row(a.v, b, h, s);
        if (a.v.strides[3] == 1)
          K.to_f32(a.v.dtype, vr, row.data(), D);
        else
          for (int64_t d = 0; d < D; ++d)
            row[static_cast<size_t>(d)] = load_f32(a.v.dtype, vr, d * a.v.strides[3]);
        for (int64_t dp = 0; dp < D / nr; ++dp)
          std::copy_n(row.data() + dp * nr, nr, vp + dp * p.keys_padded * nr + s * nr);
      }
    }
  });
}

}  // namespace

void attention_prefill(ThreadPool& pool, const AttentionArgs& a) {
  const GemmKernels& K = gemm_kernels();
  const int64_t mr = K.tiles.mr, nr = K.tiles.nr;
  const int64_t B = a.q.shape[0], Hq = a.q.shape[1], Sq = a.q.shape[2], D = a.q.shape[3];
  const int64_t Hkv = a.k.shape[1], group = Hq / Hkv;
  const int64_t qblock = mr * 8;  // queries per task
  Packed packed;
  pack_kv(pool, K, a, packed);
  const int64_t per = packed.keys_padded * D;
  const int64_t qblocks = (Sq + qblock - 1) / qblock;
  const float neg_inf = -std::numeric_limits<float>::infinity();

  pool.parallel_for(B * Hq * qblocks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> qp(static_cast<size_t>(qblock * D)), pp(static_cast<size_t>(qblock * kKeyBlock));
    std::vector<float> s(static_cast<size_t>(qblock * kKeyBlock)), acc(static_cast<size_t>(qblock * D));
    std::vector<float> m(static_cast<size_t>(qblock)), l(static_cast<size_t>(qblock)),
        row(static_cast<size_t>(D));
    alignas(64) float tile[8 * 32];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / (Hq * qblocks), h = (t / qblocks) % Hq, q0 = (t % qblocks) * qblock;
      const int64_t rows = std::min(qblock, Sq - q0);
      const int64_t len = kv_length(a, b);
      const float* kbase = packed.k.data() + (b * Hkv + h / group) * per;
      const float* vbase = packed.v.data() + (b * Hkv + h / group) * per;
      // Q block, pre-scaled, as A panels [qblock/mr][D][mr]; padding rows are zero.
      std::fill(qp.begin(), qp.end(), 0.0f);
      for (int64_t i = 0; i < rows; ++i) {
        const char* qr = attn_row(a.q, b, h, q0 + i);
        if (a.q.strides[3] == 1)
          K.to_f32(a.q.dtype, qr, row.data(), D);
        else
          for (int64_t d = 0; d < D; ++d)
            row[static_cast<size_t>(d)] = load_f32(a.q.dtype, qr, d * a.q.strides[3]);
        float* panel = qp.data() + (i / mr) * D * mr + (i % mr);
        for (int64_t d = 0; d < D; ++d) panel[d * mr] = row[static_cast<size_t>(d)] * a.scale;
      }
      std::fill(m.begin(), m.end(), neg_inf);
      std::fill(l.begin(), l.end(), 0.0f);
      std::fill(acc.begin(), acc.end(), 0.0f);
      const int64_t key_end = key_limit(a, q0 + rows - 1, len);  // the last query sees the most
      const int64_t qpanels = (rows + mr - 1) / mr;
      for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
        const int64_t kn = std::min(kKeyBlock, key_end - k0);
        // S = Q·Kᵀ for this key block.
        for (int64_t qpi = 0; qpi < qpanels; ++qpi)
          for (int64_t kp = 0; kp * nr < kn; ++kp) {
            K.micro(D, qp.data() + qpi * D * mr, kbase + ((k0 / nr) + kp) * D * nr, tile);
            for (int64_t i = 0; i < mr; ++i)
              std::copy_n(tile + i * nr, nr, s.data() + (qpi * mr + i) * kKeyBlock + kp * nr);
          }
        // Online softmax per row; P goes straight into A-panel layout [qblock/mr][kKeyBlock][mr].
        std::fill(pp.begin(), pp.end(), 0.0f);
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t lim = std::min(kn, key_limit(a, q0 + i, len) - k0);
          float* srow = s.data() + i * kKeyBlock;
          float mx = m[static_cast<size_t>(i)];
          for (int64_t j = 0; j < lim; ++j) mx = std::max(mx, srow[j]);
          if (lim <= 0 || mx == neg_inf) continue;
          const float corr = std::exp(m[static_cast<size_t>(i)] - mx);
          float sum = 0.0f;
          float* prow = pp.data() + (i / mr) * kKeyBlock * mr + (i % mr);
          for (int64_t j = 0; j < lim; ++j) {
            const float e = std::exp(srow[j] - mx);
            prow[j * mr] = e;
            sum += e;
          }
          l[static_cast<size_t>(i)] = l[static_cast<size_t>(i)] * corr + sum;
          m[static_cast<size_t>(i)] = mx;
          if (corr != 1.0f) {
            float* arow = acc.data() + i * D;
            for (int64_t d = 0; d < D; ++d) arow[d] *= corr;
          }
        }
        // O += P·V.
        const int64_t kpad = (kn + nr - 1) / nr * nr;  // V rows past the length are zero-padded
        for (int64_t qpi = 0; qpi < qpanels; ++qpi)
          for (int64_t dp = 0; dp < D / nr; ++dp) {
            K.micro(kpad, pp.data() + qpi * kKeyBlock * mr, vbase + dp * packed.keys_padded * nr + k0 * nr,
                    tile);
            for (int64_t i = 0; i < mr && qpi * mr + i < rows; ++i) {
              float* arow = acc.data() + (qpi * mr + i) * D + dp * nr;
              for (int64_t j = 0; j < nr; ++j) arow[j] += tile[i * nr + j];
            }
          }
      }
      for (int64_t i = 0; i < rows; ++i) {
        const float inv = l[static_cast<size_t>(i)] > 0.0f ? 1.0f / l[static_cast<size_t>(i)] : 0.0f;
        char* orow = attn_row(a.out, b, h, q0 + i);
        for (int64_t d = 0; d < D; ++d)
          store_f32(a.out.dtype, orow, d * a.out.strides[3], acc[static_cast<size_t>(i * D + d)] * inv);
      }
    }
  });
}

}  // namespace porta::cpu
