// Flash-style prefill on the GEMM micro-kernel: K and V of each (batch, kv head) are
// packed once into B-panel layout (gemm_pack.h); each task takes a block of queries of
// one head and walks the key blocks with an online softmax. S = scale·Q·Kᵀ and O += P·V
// are micro-kernel tiles, and no Sq x Skv matrix is ever stored.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <vector>

#include "backends/cpu/attention_common.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/gemm_pack.h"
#include "backends/cpu/row_kernels.h"

namespace porta::cpu {
namespace {

constexpr int64_t kKeyBlock = 64;  // keys per step; a multiple of every kernel set's nr

/// 64-byte aligned, zero-filled floats (the micro-kernel loads B panels aligned).
struct AlignedFloats {
  explicit AlignedFloats(int64_t n)
      : p(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>((n * 4 + 63) / 64 * 64)))) {
    if (!p) throw std::bad_alloc();
    std::fill_n(p.get(), n, 0.0f);
  }
  float* get() const { return p.get(); }
  struct Free {
    void operator()(float* f) const { std::free(f); }
  };
  std::unique_ptr<float, Free> p;
};

GemmMatrix head_matrix(const TensorArg& t, int64_t b, int64_t h, bool keys_as_columns) {
  // Rows are sequence positions and columns head-dim entries, or the reverse (Kᵀ).
  const char* base = attn_row(t, b, h, 0);
  return keys_as_columns ? GemmMatrix{base, t.dtype, t.strides[3], t.strides[2]}
                         : GemmMatrix{base, t.dtype, t.strides[2], t.strides[3]};
}

}  // namespace

void attention_prefill(ThreadPool& pool, const AttentionArgs& a) {
  const GemmMicrokernel& mk = gemm_microkernel();
  const RowKernels& rk = row_kernels();
  const int64_t mr = mk.tiles.mr, nr = mk.tiles.nr;
  const int64_t B = a.q.shape[0], Hq = a.q.shape[1], Sq = a.q.shape[2], D = a.q.shape[3];
  const int64_t Hkv = a.k.shape[1], Skv = a.k.shape[2], group = Hq / Hkv;
  const int64_t keys_padded = (Skv + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  const int64_t d_padded = (D + nr - 1) / nr * nr;  // V panels cover D in whole nr columns
  const int64_t per_head = keys_padded * std::max(D, d_padded);

  // K as B panels [keys/nr][D][nr] (B(k=d, n=key)); V as [D/nr][keys_padded][nr] (B(k=key, n=d)).
  // Only the batch's first kv-length keys are packed: the cache slots past it may hold
  // anything (NaN too), and P·V over a padded key block multiplies the rows past the length,
  // which must therefore stay zero.
  AlignedFloats kpack(B * Hkv * per_head), vpack(B * Hkv * per_head);
  pool.parallel_for(B * Hkv, 1, [&](int64_t t0, int64_t t1) {
    AlignedFloats vtmp(Skv * d_padded);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / Hkv, h = t % Hkv, len = kv_length(a, b);
      if (len == 0) continue;
      gemm_pack_b(mk, head_matrix(a.k, b, h, true), 0, D, 0, len, kpack.get() + t * per_head);
      gemm_pack_b(mk, head_matrix(a.v, b, h, false), 0, len, 0, D, vtmp.get());
      for (int64_t p = 0; p < d_padded / nr; ++p)
        std::copy_n(vtmp.get() + p * len * nr, len * nr, vpack.get() + t * per_head + p * keys_padded * nr);
    }
  });

  const int64_t qblock = mr * 8;  // queries per task
  const int64_t qblocks = (Sq + qblock - 1) / qblock;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  pool.parallel_for(B * Hq * qblocks, 1, [&](int64_t t0, int64_t t1) {
    AlignedFloats qp(qblock * D), pp(qblock * kKeyBlock);
    std::vector<float> s(static_cast<size_t>(qblock * kKeyBlock)),
        acc(static_cast<size_t>(qblock * d_padded));
    std::vector<float> m(static_cast<size_t>(qblock)), l(static_cast<size_t>(qblock));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / (Hq * qblocks), h = (t / qblocks) % Hq, q0 = (t % qblocks) * qblock;
      const int64_t rows = std::min(qblock, Sq - q0);
      const int64_t len = kv_length(a, b);
      const float* kbase = kpack.get() + (b * Hkv + h / group) * per_head;
      const float* vbase = vpack.get() + (b * Hkv + h / group) * per_head;
      gemm_pack_a(head_matrix(a.q, b, h, false), q0, rows, 0, D, static_cast<int>(mr), qp.get());
      std::fill(m.begin(), m.end(), neg_inf);
      std::fill(l.begin(), l.end(), 0.0f);
      std::fill(acc.begin(), acc.end(), 0.0f);
      const int64_t key_end = key_limit(a, q0 + rows - 1, len);  // the last query sees the most
      const int64_t qpanels = (rows + mr - 1) / mr;
      for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
        const int64_t kn = std::min(kKeyBlock, key_end - k0);
        for (int64_t qpi = 0; qpi < qpanels; ++qpi)  // S = scale·Q·Kᵀ for this key block
          for (int64_t kp = 0; kp * nr < kn; ++kp)   // tiles land in S directly (ldc = kKeyBlock)
            mk.tile(D, qp.get() + qpi * D * mr, kbase + (k0 / nr + kp) * D * nr,
                    s.data() + qpi * mr * kKeyBlock + kp * nr, kKeyBlock, a.scale, 0.0f);
        // Online softmax per row; P goes straight into A-panel layout [qblock/mr][kKeyBlock][mr].
        std::fill_n(pp.get(), qblock * kKeyBlock, 0.0f);
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t lim = std::min(kn, key_limit(a, q0 + i, len) - k0);
          float* srow = s.data() + i * kKeyBlock;
          if (lim <= 0) continue;
          const float mx =
              std::max(m[static_cast<size_t>(i)], rk.scale_add_max(srow, 1.0f, nullptr, srow, lim));
          if (mx == neg_inf) continue;
          const float corr = std::exp(m[static_cast<size_t>(i)] - mx);
          float e[kKeyBlock];
          const float sum = static_cast<float>(rk.exp_sum(srow, mx, e, lim));
          float* prow = pp.get() + (i / mr) * kKeyBlock * mr + (i % mr);
          for (int64_t j = 0; j < lim; ++j) prow[j * mr] = e[j];
          l[static_cast<size_t>(i)] = l[static_cast<size_t>(i)] * corr + sum;
          m[static_cast<size_t>(i)] = mx;
          if (corr != 1.0f)
            for (int64_t d = 0; d < d_padded; ++d) acc[static_cast<size_t>(i * d_padded + d)] *= corr;
        }
        const int64_t kpad = (kn + nr - 1) / nr * nr;     // P is zero past kn; V is zero past Skv
        for (int64_t qpi = 0; qpi < qpanels; ++qpi)       // O += P·V
          for (int64_t dp = 0; dp < d_padded / nr; ++dp)  // accumulated in place (beta = 1)
            mk.tile(kpad, pp.get() + qpi * kKeyBlock * mr, vbase + dp * keys_padded * nr + k0 * nr,
                    acc.data() + qpi * mr * d_padded + dp * nr, d_padded, 1.0f, 1.0f);
      }
      for (int64_t i = 0; i < rows; ++i) {
        const float inv = l[static_cast<size_t>(i)] > 0.0f ? 1.0f / l[static_cast<size_t>(i)] : 0.0f;
        char* orow = attn_row(a.out, b, h, q0 + i);
        for (int64_t d = 0; d < D; ++d)
          store_f32(a.out.dtype, orow, d * a.out.strides[3],
                    acc[static_cast<size_t>(i * d_padded + d)] * inv);
      }
    }
  });
}

}  // namespace porta::cpu
