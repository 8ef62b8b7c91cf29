// Split-KV decode ("flash-decoding"): the KV range of each (batch, kv head) is cut into
// chunks that run in parallel; a chunk serves every query row of the GQA group, so each
// K/V row is read from memory once. Partials (max, sum, accumulator) are combined after.
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "backends/cpu/attention_common.h"
#include "backends/cpu/convert.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/row_kernels.h"

namespace porta::cpu {

// Block kernels: scores s[r*n + j] = q_r . k_j and acc_r += sum_j p[r*n + j] v_j, reading
// K/V rows in place in their dtype (rows of `stride` elements, unit element stride).
#if defined(PORTA_CPU_X86)
namespace avx2 {  // attention_blocks_avx2.cpp
bool supports(DType t, int64_t D);
void scores(DType t, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s);
void accumulate(DType t, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                float* acc);
}  // namespace avx2
namespace avx512 {  // attention_blocks_avx512.cpp
bool supports(DType t, int64_t D);
void online_softmax(float* s, int64_t R, int64_t n, const int64_t* visible, float* m, float* l, float* acc,
                    int64_t D);
void scores(DType t, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s);
void accumulate(DType t, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                float* acc);
}  // namespace avx512
#endif

namespace generic {
#include "backends/cpu/attention_blocks.h"
}  // namespace generic

namespace {

constexpr int64_t kMinChunk = 256;  // keys per task at least (amortises the partial's write)
constexpr int64_t kBlock = 32;      // keys per online-softmax step: K and V blocks stay in L1 (16: same
                                    // speed; 128-512: 25% slower, V is re-read from L2)

}  // namespace

// One online-softmax step over a block of n scores per row: s[r*n + j] becomes the weight
// p (0 past visible[r]); running max m[r], sum l[r] and accumulator row r of acc are
// rescaled when the max grows.
void online_softmax_rows(float* s, int64_t R, int64_t n, const int64_t* visible, float* m, float* l,
                         float* acc, int64_t D) {
  const RowKernels& rk = row_kernels();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < R; ++r) {
    float* sr = s + r * n;
    const int64_t vis = visible[r];
    float mx = m[r];
    if (vis > 0) mx = std::max(mx, rk.scale_add_max(sr, 1.0f, nullptr, sr, vis));
    if (vis == 0 || mx == neg_inf) {
      std::fill_n(sr, n, 0.0f);
      continue;
    }
    const float corr = std::exp(m[r] - mx);
    const float sum = static_cast<float>(rk.exp_sum(sr, mx, sr, vis));
    std::fill(sr + vis, sr + n, 0.0f);
    l[r] = l[r] * corr + sum;
    m[r] = mx;
    if (corr != 1.0f)
      for (int64_t d = 0; d < D; ++d) acc[r * D + d] *= corr;
  }
}

namespace {

void generic_scores(DType, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s) {
  generic::decode_scores(q, R, D, static_cast<const float*>(k), ks, n, s);
}
void generic_accumulate(DType, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                        float* acc) {
  generic::decode_accumulate(p, R, n, static_cast<const float*>(v), vs, D, acc);
}

const BlockKernels* block_kernels(const AttentionArgs& a) {
  if (a.k.dtype != a.v.dtype || a.k.strides[3] != 1 || a.v.strides[3] != 1) return nullptr;
  return block_kernels_for(a.k.dtype, a.k.shape[3]);
}

}  // namespace

// The widest set the GEMM kernel choice allows (PORTA_CPU_GEMM_ISA caps both, so a host
// with AVX-512 also tests the AVX2 kernels), or null: the portable kernels on f32 copies.
const BlockKernels* block_kernels_for(DType t, int64_t D) {
#if defined(PORTA_CPU_X86)
  static const BlockKernels k512{&avx512::scores, &avx512::online_softmax, &avx512::accumulate, true};
  static const BlockKernels k256{&avx2::scores, &online_softmax_rows, &avx2::accumulate, false};
  const std::string isa = gemm_microkernel().isa;
  if (isa == "avx512" && avx512::supports(t, D)) return &k512;
  if ((isa == "avx512" || isa == "avx2") && avx2::supports(t, D)) return &k256;
#else
  (void)t;
  (void)D;
#endif
  return nullptr;
}

const BlockKernels& f32_block_kernels(int64_t D) {
  static const BlockKernels portable{&generic_scores, &online_softmax_rows, &generic_accumulate, false};
  const BlockKernels* k = block_kernels_for(DType::f32, D);
  return k ? *k : portable;
}

namespace {

void load_row_f32(const TensorArg& t, const char* p, int64_t D, float* out) {
  if (t.strides[3] == 1)
    convert_row_to_f32(t.dtype, p, out, D);
  else
    for (int64_t d = 0; d < D; ++d) out[d] = load_f32(t.dtype, p, d * t.strides[3]);
}

// Folds the chunk partials of one query row into its output row.
void combine_row(const AttentionArgs& a, const float* part, int64_t chunks, int64_t row_stride, int64_t D,
                 char* orow, float* acc) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  float mx = neg_inf;
  for (int64_t c = 0; c < chunks; ++c) mx = std::max(mx, part[c * row_stride]);
  std::fill_n(acc, D, 0.0f);
  float l = 0.0f;
  if (mx != neg_inf) {
    for (int64_t c = 0; c < chunks; ++c) {
      const float* pr = part + c * row_stride;
      if (pr[0] == neg_inf) continue;
      const float w = std::exp(pr[0] - mx);
      l += w * pr[1];
      for (int64_t d = 0; d < D; ++d) acc[d] += w * pr[2 + d];
    }
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  for (int64_t d = 0; d < D; ++d) store_f32(a.out.dtype, orow, d * a.out.strides[3], acc[d] * inv);
}

}  // namespace

void attention_decode(ThreadPool& pool, const AttentionArgs& a) {
  const BlockKernels* bk = block_kernels(a);
  const int64_t B = a.q.shape[0], Hq = a.q.shape[1], Sq = a.q.shape[2], D = a.q.shape[3];
  const int64_t Hkv = a.k.shape[1], Skv = a.k.shape[2], group = Hq / Hkv;
  const int64_t R = group * Sq;  // query rows sharing one kv head
  const int64_t heads = B * Hkv;
  // Chunks per head from the partition width, not pool.size(): PORTA_DETERMINISTIC fixes it,
  // and with it the order in which combine_row adds the chunks.
  const int64_t want = pool.partition_width() * 8;
  const int64_t chunks =
      std::clamp<int64_t>((want + heads - 1) / heads, 1, std::max<int64_t>(1, Skv / kMinChunk));
  const int64_t chunk_len = (Skv + chunks - 1) / chunks;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  // Partials per (head, row, chunk): running max m, sum l, then D accumulators.
  const int64_t stride = D + 2;
  std::vector<float> part(static_cast<size_t>(heads * R * chunks * stride));
  auto partial = [&](int64_t hd, int64_t r, int64_t c) {
    return part.data() + ((hd * R + r) * chunks + c) * stride;
  };
  const int64_t row_bytes = D * static_cast<int64_t>(dtype_size(a.k.dtype));
  const int64_t k_row_step = a.k.strides[2] * static_cast<int64_t>(dtype_size(a.k.dtype));
  const int64_t v_row_step = a.v.strides[2] * static_cast<int64_t>(dtype_size(a.v.dtype));
  // The thread that finishes a head's last chunk combines that head: one pool dispatch
  // per call, not two (a dispatch costs about as much as a short decode).
  std::unique_ptr<std::atomic<int64_t>[]> chunks_done(new std::atomic<int64_t>[static_cast<size_t>(heads)]());

  // Tasks are handed out one at a time: on a loaded host a descheduled thread then holds
  // back only its current chunk instead of a fixed share of the work.
  const int64_t tasks = heads * chunks;
  std::atomic<int64_t> next{0};
  pool.run(static_cast<int>(std::min<int64_t>(pool.size(), tasks)), [&](int, int) {
    std::vector<float> q(static_cast<size_t>(R * D)), kb, vb, s(static_cast<size_t>(R * kBlock)),
        m(static_cast<size_t>(R)), l(static_cast<size_t>(R)), acc(static_cast<size_t>(R * D));
    std::vector<int64_t> lim(static_cast<size_t>(R)), visible(static_cast<size_t>(R));
    if (!bk) {
      kb.resize(static_cast<size_t>(kBlock * D));
      vb.resize(static_cast<size_t>(kBlock * D));
    }
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t hd = t / chunks, c = t % chunks, b = hd / Hkv, hk = hd % Hkv;
      const int64_t len = kv_length(a, b);
      const int64_t j0 = c * chunk_len, j1 = std::min(len, j0 + chunk_len);
      std::fill(acc.begin(), acc.end(), 0.0f);
      std::fill(m.begin(), m.end(), neg_inf);
      std::fill(l.begin(), l.end(), 0.0f);
      for (int64_t r = 0; r < R; ++r) {
        const int64_t h = hk * group + r / Sq, i = r % Sq;
        load_row_f32(a.q, attn_row(a.q, b, h, i), D, q.data() + r * D);
        for (int64_t d = 0; d < D; ++d) q[static_cast<size_t>(r * D + d)] *= a.scale;
        lim[static_cast<size_t>(r)] = key_limit(a, i, len);
      }
      for (int64_t k0 = j0; k0 < j1; k0 += kBlock) {
        const int64_t n = std::min(kBlock, j1 - k0);
        // Without kernels that prefetch ahead, ask for this block's rows before the math:
        // two threads alone leave DRAM latency exposed, and the requests overlap this way.
        if (!bk || !bk->prefetches_ahead) {
          const char* kr = attn_row(a.k, b, hk, k0);
          const char* vr = attn_row(a.v, b, hk, k0);
          for (int64_t j = 0; j < n; ++j, kr += k_row_step, vr += v_row_step)
            for (int64_t off = 0; off < row_bytes; off += 64) {
              __builtin_prefetch(kr + off);
              __builtin_prefetch(vr + off);
            }
        }
        if (bk) {
          bk->scores(a.k.dtype, q.data(), R, D, attn_row(a.k, b, hk, k0), a.k.strides[2], n, s.data());
        } else {
          for (int64_t j = 0; j < n; ++j) {
            load_row_f32(a.k, attn_row(a.k, b, hk, k0 + j), D, kb.data() + j * D);
            load_row_f32(a.v, attn_row(a.v, b, hk, k0 + j), D, vb.data() + j * D);
          }
          generic::decode_scores(q.data(), R, D, kb.data(), D, n, s.data());
        }
        for (int64_t r = 0; r < R; ++r)
          visible[static_cast<size_t>(r)] = std::clamp<int64_t>(lim[static_cast<size_t>(r)] - k0, 0, n);
        (bk ? bk->softmax : &online_softmax_rows)(s.data(), R, n, visible.data(), m.data(), l.data(),
                                                  acc.data(), D);
        if (bk)
          bk->accumulate(a.v.dtype, s.data(), R, n, attn_row(a.v, b, hk, k0), a.v.strides[2], D, acc.data());
        else
          generic::decode_accumulate(s.data(), R, n, vb.data(), D, D, acc.data());
      }
      for (int64_t r = 0; r < R; ++r) {
        float* P = partial(hd, r, c);
        P[0] = m[static_cast<size_t>(r)];
        P[1] = l[static_cast<size_t>(r)];
        std::copy_n(acc.data() + r * D, D, P + 2);
      }
      if (chunks_done[hd].fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        for (int64_t r = 0; r < R; ++r) {
          const int64_t h = hk * group + r / Sq, i = r % Sq;
          combine_row(a, partial(hd, r, 0), chunks, stride, D, attn_row(a.out, b, h, i), acc.data());
        }
      }
    }
  });
}

}  // namespace porta::cpu
