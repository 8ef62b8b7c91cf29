// Split-KV decode ("flash-decoding"): the KV range of each (batch, kv head) is cut into
// chunks that run in parallel; a chunk serves every query row of the GQA group, so each
// K/V row is read from memory once. Partials (max, sum, accumulator) are combined after.
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/attention_common.h"
#include "backends/cpu/convert.h"
#include "backends/cpu/row_kernels.h"

namespace porta::cpu {

#if defined(PORTA_CPU_X86)
namespace avx2 {  // attention_blocks_avx2.cpp
bool supports(DType t, int64_t D);
void scores(DType t, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t n, float* s);
void accumulate(DType t, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t D,
                float* acc);
}  // namespace avx2
#endif

namespace generic {
#include "backends/cpu/attention_blocks.h"
}  // namespace generic

namespace {

constexpr int64_t kMinChunk = 256;  // keys per task at least (amortises the partial's write)
constexpr int64_t kBlock = 64;      // keys converted and scored together

// AVX2 kernels read K/V rows in place in their own dtype; the portable ones read f32
// rows, converted into scratch first.
bool use_avx2(const AttentionArgs& a) {
#if defined(PORTA_CPU_X86)
  static const bool cpu_ok =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return cpu_ok && a.k.dtype == a.v.dtype && a.k.strides[3] == 1 && a.v.strides[3] == 1 &&
         avx2::supports(a.k.dtype, a.k.shape[3]);
#else
  (void)a;
  return false;
#endif
}

void load_row_f32(const TensorArg& t, const char* p, int64_t D, float* out) {
  if (t.strides[3] == 1)
    convert_row_to_f32(t.dtype, p, out, D);
  else
    for (int64_t d = 0; d < D; ++d) out[d] = load_f32(t.dtype, p, d * t.strides[3]);
}

}  // namespace

void attention_decode(ThreadPool& pool, const AttentionArgs& a) {
  const bool fast = use_avx2(a);
  const RowKernels& rk = row_kernels();
  const int64_t B = a.q.shape[0], Hq = a.q.shape[1], Sq = a.q.shape[2], D = a.q.shape[3];
  const int64_t Hkv = a.k.shape[1], Skv = a.k.shape[2], group = Hq / Hkv;
  const int64_t R = group * Sq;  // query rows sharing one kv head
  const int64_t heads = B * Hkv;
  const int64_t want = pool.size() * 8;
  const int64_t chunks =
      std::clamp<int64_t>((want + heads - 1) / heads, 1, std::max<int64_t>(1, Skv / kMinChunk));
  const int64_t chunk_len = (Skv + chunks - 1) / chunks;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  // Partials per (head, chunk, row): running max m, sum l, then D accumulators.
  const int64_t stride = D + 2;
  std::vector<float> part(static_cast<size_t>(heads * chunks * R * stride));
  const int64_t row_bytes = D * static_cast<int64_t>(dtype_size(a.k.dtype));

  // Tasks are handed out one at a time: on a loaded host a descheduled thread then holds
  // back only its current chunk instead of a fixed share of the work.
  const int64_t tasks = heads * chunks;
  std::atomic<int64_t> next{0};
  pool.run(static_cast<int>(std::min<int64_t>(pool.size(), tasks)), [&](int, int) {
    std::vector<float> q(static_cast<size_t>(R * D)), kb(static_cast<size_t>(kBlock * D)),
        vb(static_cast<size_t>(kBlock * D)), s(static_cast<size_t>(R * kBlock)), lim(static_cast<size_t>(R)),
        acc(static_cast<size_t>(R * D));
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t hd = t / chunks, c = t % chunks, b = hd / Hkv, hk = hd % Hkv;
      const int64_t len = kv_length(a, b);
      const int64_t j0 = c * chunk_len, j1 = std::min(len, j0 + chunk_len);
      float* P = part.data() + (hd * chunks + c) * R * stride;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t r = 0; r < R; ++r) {
        P[r * stride] = neg_inf;
        P[r * stride + 1] = 0.0f;
        const int64_t h = hk * group + r / Sq, i = r % Sq;
        load_row_f32(a.q, attn_row(a.q, b, h, i), D, q.data() + r * D);
        for (int64_t d = 0; d < D; ++d) q[static_cast<size_t>(r * D + d)] *= a.scale;
        lim[static_cast<size_t>(r)] = static_cast<float>(key_limit(a, i, len));
      }
      for (int64_t k0 = j0; k0 < j1; k0 += kBlock) {
        const int64_t n = std::min(kBlock, j1 - k0);
        // Decode is a stream over K/V: ask for the next block now so its DRAM latency overlaps
        // this block's math (the hardware prefetcher alone leaves two threads latency-bound).
        for (int64_t j = k0 + kBlock; j < std::min(j1, k0 + 2 * kBlock); ++j) {
          const char* kr = attn_row(a.k, b, hk, j);
          const char* vr = attn_row(a.v, b, hk, j);
          for (int64_t off = 0; off < row_bytes; off += 64) {
            __builtin_prefetch(kr + off);
            __builtin_prefetch(vr + off);
          }
        }
        if (fast) {
#if defined(PORTA_CPU_X86)
          avx2::scores(a.k.dtype, q.data(), R, D, attn_row(a.k, b, hk, k0), a.k.strides[2], n, s.data());
#endif
        } else {
          for (int64_t j = 0; j < n; ++j) {
            load_row_f32(a.k, attn_row(a.k, b, hk, k0 + j), D, kb.data() + j * D);
            load_row_f32(a.v, attn_row(a.v, b, hk, k0 + j), D, vb.data() + j * D);
          }
          generic::decode_scores(q.data(), R, D, kb.data(), D, n, s.data());
        }
        for (int64_t r = 0; r < R; ++r) {  // online softmax, one rescale per block
          float* sr = s.data() + r * n;
          float* pr = P + r * stride;
          const int64_t visible =
              std::clamp<int64_t>(static_cast<int64_t>(lim[static_cast<size_t>(r)]) - k0, 0, n);
          float mx = pr[0];
          if (visible > 0) mx = std::max(mx, rk.scale_add_max(sr, 1.0f, nullptr, sr, visible));
          if (visible == 0 || mx == neg_inf) {
            std::fill_n(sr, n, 0.0f);
            continue;
          }
          const float corr = std::exp(pr[0] - mx);
          const float sum = static_cast<float>(rk.exp_sum(sr, mx, sr, visible));
          std::fill(sr + visible, sr + n, 0.0f);
          pr[1] = pr[1] * corr + sum;
          pr[0] = mx;
          if (corr != 1.0f)
            for (int64_t d = 0; d < D; ++d) acc[static_cast<size_t>(r * D + d)] *= corr;
        }
        if (fast) {
#if defined(PORTA_CPU_X86)
          avx2::accumulate(a.v.dtype, s.data(), R, n, attn_row(a.v, b, hk, k0), a.v.strides[2], D,
                           acc.data());
#endif
        } else {
          generic::decode_accumulate(s.data(), R, n, vb.data(), D, D, acc.data());
        }
      }
      for (int64_t r = 0; r < R; ++r) std::copy_n(acc.data() + r * D, D, P + r * stride + 2);
    }
  });

  // Combine the chunks of each query row.
  pool.parallel_for(heads * R, 4, [&](int64_t t0, int64_t t1) {
    std::vector<float> acc(static_cast<size_t>(D));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t hd = t / R, r = t % R, b = hd / Hkv, hk = hd % Hkv;
      float mx = neg_inf;
      for (int64_t c = 0; c < chunks; ++c)
        mx = std::max(mx, part[static_cast<size_t>(((hd * chunks + c) * R + r) * stride)]);
      std::fill(acc.begin(), acc.end(), 0.0f);
      float l = 0.0f;
      if (mx != neg_inf) {
        for (int64_t c = 0; c < chunks; ++c) {
          const float* pr = part.data() + ((hd * chunks + c) * R + r) * stride;
          if (pr[0] == neg_inf) continue;
          const float w = std::exp(pr[0] - mx);
          l += w * pr[1];
          for (int64_t d = 0; d < D; ++d) acc[static_cast<size_t>(d)] += w * pr[2 + d];
        }
      }
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      const int64_t h = hk * group + r / Sq, i = r % Sq;
      char* orow = attn_row(a.out, b, h, i);
      for (int64_t d = 0; d < D; ++d)
        store_f32(a.out.dtype, orow, d * a.out.strides[3], acc[static_cast<size_t>(d)] * inv);
    }
  });
}

}  // namespace porta::cpu
