// Paged attention on the cpu: the split-KV decode of attention_decode.cpp with block-table
// address translation. Work units are (sequence, tile of queries, range of kv heads: every
// head at decode); each unit's visible key range is cut into block-aligned chunks that run as
// separate tasks, and the thread finishing a unit's last chunk folds the partials into the
// output (and the LSE). A task walks its keys in online-softmax steps (32 keys with AVX-512:
// two 16-slot blocks; 64 for int8 with VNNI) and, per step, its heads one after another, so a
// block's rows of all heads are read together. The dense decode's vectorised kernels run on
// the rows in place: with AVX-512 for every cache format (fp8 codes widened in registers;
// int8 codes with VNNI through one fused step per 4 query rows, avx512::step_i8 in
// paged_kernels_avx512.cpp: integer scores, softmax, int16 weights and integer values, the
// step's scales of all heads transposed once; else widened with the scales applied to scores
// and weights), with AVX2 for float caches; otherwise on an f32 copy. Rows
// two (step, head) pairs ahead are prefetched while one is computed: blocks are scattered,
// so neither the hardware streamer nor the dense kernels' stride prefetch can find them.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/attention_common.h"
#include "backends/cpu/convert.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/paged_common.h"
#include "backends/cpu/paged_kernels.h"

namespace porta::cpu {

namespace {

constexpr int64_t kMaxTileRows = 32;   // query rows (queries x GQA group) per kv head and unit
constexpr int64_t kUnitFloats = 8192;  // q (and acc) floats of a unit at most when it groups heads
constexpr int64_t kMinChunk = 256;     // keys per task at least (amortises the partial's write)
constexpr int64_t kTasksPerThread = 8;
constexpr int64_t kPrefetchHeads = 2;  // (step, head) pairs ahead whose rows are prefetched
constexpr int64_t kStepKeys = 32;    // keys per online-softmax step (AVX-512): blocks of 16 go two at a time
constexpr int64_t kStepKeysI8 = 64;  // int8 with VNNI (avx512::step_i8): half the per-step work per key
constexpr int kMaxSpans = 4;         // blocks per step (kStepKeysI8 / the smallest block size)

// A run of keys inside one block: block id, first slot, count, position of the first key.
struct Span {
  int64_t id, slot, n, pos;
};
// The keys of one online-softmax step; end: the position after the last key it examined.
struct Step {
  Span sp[kMaxSpans];
  int count = 0;
  int64_t keys = 0, end = 0;
};  // (block, head) steps ahead whose rows are prefetched

// A unit is (sequence, tile of queries, range of kv heads). Decode tiles hold a few rows per
// head, so a unit takes several heads (every head when they fit kUnitFloats) and walks the
// blocks once, all its heads per block: a block's rows of consecutive heads lie side by side
// ([block, slot, head, D]), so the block is read as one stretch of memory instead of one
// D-element row per slot and head at a stride of Hkv * D, revisited by each head's unit.
struct Unit {
  int64_t b, hk0, hk1, i0, i1;  // sequence, kv heads [hk0, hk1), queries [i0, i1) of the sequence
  int64_t q_row0;               // row of q holding the sequence's query 0
  int64_t qlen, len;            // the sequence's (clamped) query count and KV length
  int64_t lo, hi;               // keys any query of the tile may see
  int64_t chunks, chunk_len, first_task, part_off;
};

struct Task {
  int64_t unit, chunk;
};

// Every value of an fp8 e4m3 code, times the cache's scale.
struct Fp8Table {
  float v[256];
  explicit Fp8Table(float scale) {
    for (int i = 0; i < 256; ++i) v[i] = fp8_e4m3fn_to_float(static_cast<uint8_t>(i)) * scale;
  }
};

// n rows of one kv head of one cache block, as f32 [n, D] (quantised caches, or plain ones the
// ISA kernels cannot read in place).
void dequantize_rows(const KvCacheArg& c, const TensorArg& t, const TensorArg& scales, const Fp8Table* fp8,
                     int64_t block, int64_t slot0, int64_t n, int64_t hk, int64_t D, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    const char* src = cache_row(t, block, slot0 + j, hk);
    float* o = out + j * D;
    switch (c.format) {
      case KvCacheFormat::plain: convert_row_to_f32(t.dtype, src, o, D); break;
      case KvCacheFormat::int8: {
        const float s = *cache_scale(scales, block, slot0 + j, hk);
        const auto* q = reinterpret_cast<const int8_t*>(src);
        for (int64_t d = 0; d < D; ++d) o[d] = static_cast<float>(q[d]) * s;
        break;
      }
      case KvCacheFormat::fp8_e4m3fn: {
        const auto* q = reinterpret_cast<const uint8_t*>(src);
        for (int64_t d = 0; d < D; ++d) o[d] = fp8->v[q[d]];
        break;
      }
    }
  }
}

void prefetch_rows(const TensorArg& t, int64_t block, int64_t slot0, int64_t n, int64_t hk,
                   int64_t row_bytes) {
  for (int64_t j = 0; j < n; ++j) {
    const char* r = cache_row(t, block, slot0 + j, hk);
    for (int64_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(r + off);
  }
}

// The in-place AVX-512 kernels for this cache, if the host and the head dim allow them.
bool in_place_avx512(const KvCacheArg& c, int64_t D, KvElem* e) {
#if defined(PORTA_CPU_X86)
  if (std::string(gemm_microkernel().isa) != "avx512" || D % 16 != 0) return false;
  switch (c.format) {
    case KvCacheFormat::plain:
      *e = c.k.dtype == DType::f16 ? KvElem::f16 : c.k.dtype == DType::bf16 ? KvElem::bf16 : KvElem::f32;
      return true;
    case KvCacheFormat::int8: *e = KvElem::i8; return true;
    case KvCacheFormat::fp8_e4m3fn: *e = KvElem::fp8; return true;
  }
#else
  (void)c, (void)D, (void)e;
#endif
  return false;
}

}  // namespace

void paged_attention(ThreadPool& pool, const PagedAttentionArgs& a) {
  const KvCacheArg& c = a.cache;
  const int64_t T = a.q.shape[0], Hq = a.q.shape[1], D = a.q.shape[2];
  const int64_t nb = c.k.shape[0], bs = c.k.shape[1], Hkv = c.k.shape[2], group = Hq / Hkv;
  const int64_t B = a.seq_lens.shape[0], max_blocks = a.block_tables.shape[1];
  const float neg_inf = -std::numeric_limits<float>::infinity();

  // ---- units and tasks (device values clamped here, once) ----
  const int64_t tile_q = std::max<int64_t>(1, kMaxTileRows / group);
  std::vector<Unit> units;
  int64_t total_work = 0, max_rows = 1;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t c0 = std::clamp<int64_t>(load_index(a.cu_seqlens_q, b), 0, T);
    const int64_t c1 = std::clamp<int64_t>(load_index(a.cu_seqlens_q, b + 1), 0, T);
    const int64_t qlen = std::clamp<int64_t>(c1 - c0, 0, a.max_seqlen_q);
    const int64_t len = std::clamp<int64_t>(load_index(a.seq_lens, b), 0, a.max_seqlen_k);
    for (int64_t i0 = 0; i0 < qlen; i0 += tile_q) {
      const int64_t i1 = std::min(qlen, i0 + tile_q);
      const int64_t p_first = len - qlen + i0, p_last = len - qlen + i1 - 1;  // positions
      int64_t hi = a.causal ? std::clamp<int64_t>(p_last + 1, 0, len) : len;
      int64_t lo = a.window > 0 ? std::clamp<int64_t>(p_first - a.window + 1, 0, len) : 0;
      if (hi < lo) hi = lo;
      const int64_t rows = (i1 - i0) * group;  // per kv head
      const int64_t heads = std::clamp<int64_t>(kUnitFloats / (rows * D), 1, Hkv);
      for (int64_t hk = 0; hk < Hkv; hk += heads) {
        const int64_t hk1 = std::min(Hkv, hk + heads);
        units.push_back(Unit{b, hk, hk1, i0, i1, c0, qlen, len, lo, hi, 1, 0, 0, 0});
        total_work += rows * (hk1 - hk) * (hi - lo);
        max_rows = std::max(max_rows, rows * (hk1 - hk));
      }
    }
  }
  if (units.empty()) return;
  // partition_width(): PORTA_DETERMINISTIC fixes it, and with it the chunks and their merge order.
  const int64_t want_tasks = pool.partition_width() * kTasksPerThread;
  const int64_t work_per_task = std::max<int64_t>(1, total_work / want_tasks);
  int64_t n_tasks = 0, part_floats = 0;
  const int64_t pstride = D + 2;  // partial row: max, sum, D accumulators
  for (Unit& u : units) {
    const int64_t rows = (u.i1 - u.i0) * group * (u.hk1 - u.hk0), keys = u.hi - u.lo;
    int64_t len = std::max(kMinChunk, work_per_task / std::max<int64_t>(rows, 1));
    len = (len + bs - 1) / bs * bs;  // whole blocks per chunk
    u.chunks = std::max<int64_t>(1, (keys + len - 1) / len);
    u.chunk_len = len;
    u.first_task = n_tasks;
    u.part_off = part_floats;
    n_tasks += u.chunks;
    part_floats += u.chunks * rows * pstride;
  }
  std::vector<Task> tasks(static_cast<size_t>(n_tasks));
  for (int64_t ui = 0; ui < static_cast<int64_t>(units.size()); ++ui)
    for (int64_t ch = 0; ch < units[static_cast<size_t>(ui)].chunks; ++ch)
      tasks[static_cast<size_t>(units[static_cast<size_t>(ui)].first_task + ch)] = Task{ui, ch};
  std::vector<float> part(static_cast<size_t>(part_floats));
  std::unique_ptr<std::atomic<int64_t>[]> done(new std::atomic<int64_t>[units.size()]());

  KvElem elem = KvElem::f32;
  const bool use_avx512 = in_place_avx512(c, D, &elem);
  const bool codes = c.format != KvCacheFormat::plain;  // int8/fp8
  const BlockKernels* direct = !use_avx512 && !codes ? block_kernels_for(c.k.dtype, D) : nullptr;
  const bool in_place = use_avx512 || direct;
  const BlockKernels& kf32 = f32_block_kernels(D);
  const BlockKernels& kern = direct ? *direct : kf32;  // (softmax: the same step for every dtype)
  // fp8 read in place is value * 2^-8: 256 and the layer scales go to q and to the output.
  const bool fp8_in_place = use_avx512 && c.format == KvCacheFormat::fp8_e4m3fn;
  const float q_mul = fp8_in_place ? c.k_scale * 256.0f : 1.0f;
  const float out_mul = fp8_in_place ? c.v_scale * 256.0f : 1.0f;
  const bool row_scales = use_avx512 && c.format == KvCacheFormat::int8;
#if defined(PORTA_CPU_X86)
  // int8 codes with VNNI: integer dot products (paged_kernels_avx512.cpp).
  const bool vnni = row_scales && D % 32 == 0 && avx512::has_vnni();
#else
  const bool vnni = false;
#endif
  std::unique_ptr<Fp8Table> fp8k, fp8v;
  if (c.format == KvCacheFormat::fp8_e4m3fn && !use_avx512) {
    fp8k = std::make_unique<Fp8Table>(c.k_scale);
    fp8v = std::make_unique<Fp8Table>(c.v_scale);
  }
  const int64_t q_es = static_cast<int64_t>(dtype_size(a.q.dtype));
  const int64_t o_es = static_cast<int64_t>(dtype_size(a.out.dtype));
  const int64_t kv_es = static_cast<int64_t>(dtype_size(c.k.dtype));
  const int64_t row_bytes = D * kv_es;
  const int64_t ks = c.k.strides[1], vs = c.v.strides[1];  // elements between a block's rows

  // Byte addresses of cache rows and int8 scales, with the base pointers fetched once.
  const int64_t step_keys = vnni ? kStepKeysI8 : use_avx512 ? kStepKeys : bs;
  const int max_spans = use_avx512 ? static_cast<int>(std::max<int64_t>(1, step_keys / bs)) : 1;
  const char* const k_base = c.k.host<char>();
  const char* const v_base = c.v.host<char>();
  const int64_t k_blk = c.k.strides[0] * kv_es, k_slot = c.k.strides[1] * kv_es,
                k_head = c.k.strides[2] * kv_es;
  const int64_t v_blk = c.v.strides[0] * kv_es, v_slot = c.v.strides[1] * kv_es,
                v_head = c.v.strides[2] * kv_es;
  const float* const ks_base = row_scales ? c.k_scales.host<float>() : nullptr;
  const float* const vs_base = row_scales ? c.v_scales.host<float>() : nullptr;
  auto k_row = [&](int64_t id, int64_t slot, int64_t hk) {
    return k_base + id * k_blk + slot * k_slot + hk * k_head;
  };
  auto v_row = [&](int64_t id, int64_t slot, int64_t hk) {
    return v_base + id * v_blk + slot * v_slot + hk * v_head;
  };

  std::atomic<int64_t> next{0};
  pool.run(static_cast<int>(std::min<int64_t>(pool.size(), n_tasks)), [&](int, int) {
    const auto R_max = static_cast<size_t>(max_rows), Rh_max = static_cast<size_t>(tile_q * group);
    const auto n_max = static_cast<size_t>(step_keys);
    std::vector<float> q(R_max * static_cast<size_t>(D)), acc(R_max * static_cast<size_t>(D)),
        s(Rh_max * n_max), m(R_max), l(R_max), row(static_cast<size_t>(D));
    // int8 scales of a step, [head of the unit][key], read once per step for every head.
    const auto nh_max = static_cast<size_t>(Hkv);
    std::vector<float> kb, vb, kscale(row_scales ? nh_max * n_max : 0),
        vscale(row_scales ? nh_max * n_max : 0), qscale(vnni ? R_max : 0);
    std::vector<char> vfinite(nh_max);
    std::vector<int16_t> q16(vnni ? R_max * static_cast<size_t>(D) : 0);
    if (!in_place) {
      kb.resize(n_max * static_cast<size_t>(D));
      vb.resize(n_max * static_cast<size_t>(D));
    }
    std::vector<int64_t> lo_r(Rh_max), hi_r(Rh_max), visible(Rh_max), below(Rh_max);
    for (int64_t ti; (ti = next.fetch_add(1, std::memory_order_relaxed)) < n_tasks;) {
      const Task& task = tasks[static_cast<size_t>(ti)];
      const Unit& u = units[static_cast<size_t>(task.unit)];
      const int64_t Rh = (u.i1 - u.i0) * group, nh = u.hk1 - u.hk0, R = Rh * nh;  // rows per head, heads
      const int64_t kb0 = u.lo + task.chunk * u.chunk_len, kb1 = std::min(u.hi, kb0 + u.chunk_len);
      std::fill_n(acc.begin(), R * D, 0.0f);
      std::fill_n(m.begin(), R, neg_inf);
      std::fill_n(l.begin(), R, 0.0f);
      // Row r = head hh * Rh + (query i - i0) * group + g: q head (hk0 + hh) * group + g.
      const char* const q_base = a.q.host<char>();
      for (int64_t r = 0; r < R; ++r) {
        const int64_t hh = r / Rh, rl = r % Rh;
        const int64_t i = u.i0 + rl / group, h = (u.hk0 + hh) * group + rl % group;
        const char* src = q_base + ((u.q_row0 + i) * a.q.strides[0] + h * a.q.strides[1]) * q_es;
        float* qr = q.data() + r * D;
        if (a.q.strides[2] == 1)
          convert_row_to_f32(a.q.dtype, src, qr, D);
        else
          for (int64_t d = 0; d < D; ++d) qr[d] = load_f32(a.q.dtype, src, d * a.q.strides[2]);
        for (int64_t d = 0; d < D; ++d) qr[d] *= a.scale * q_mul;
      }
      // VNNI scores take q rounded to int16 against each row's max (a NaN or infinite q: floats).
      bool int_q = vnni;
#if defined(PORTA_CPU_X86)
      for (int64_t r = 0; r < R && int_q; ++r)
        int_q =
            avx512::quantize_q16(q.data() + r * D, D, q16.data() + r * D, &qscale[static_cast<size_t>(r)]);
#endif
      int64_t any_lo = u.hi, any_hi = u.lo;
      for (int64_t rl = 0; rl < Rh; ++rl) {
        const int64_t p = u.len - u.qlen + u.i0 + rl / group;
        hi_r[static_cast<size_t>(rl)] = a.causal ? std::clamp<int64_t>(p + 1, 0, u.len) : u.len;
        lo_r[static_cast<size_t>(rl)] = a.window > 0 ? std::clamp<int64_t>(p - a.window + 1, 0, u.len) : 0;
        any_lo = std::min(any_lo, lo_r[static_cast<size_t>(rl)]);
        any_hi = std::max(any_hi, hi_r[static_cast<size_t>(rl)]);
      }
      const int64_t j_begin = std::max(kb0, any_lo), j_end = std::min(kb1, any_hi);
      // The next step from key position pos: up to step_keys keys in up to max_spans runs of
      // one block each; blocks with a bad id are skipped (their keys are masked).
      auto build = [&](int64_t pos) {
        Step st;
        while (pos < j_end && st.count < max_spans && st.keys < step_keys) {
          const int64_t blk = pos / bs;
          if (blk >= max_blocks) {
            pos = j_end;
            break;
          }
          const int64_t id = load_index(a.block_tables, u.b, blk), slot = pos - blk * bs;
          const int64_t n = std::min({bs - slot, j_end - pos, step_keys - st.keys});
          if (id >= 0 && id < nb) {
            st.sp[st.count++] = Span{id, slot, n, pos};
            st.keys += n;
          }
          pos += n;
        }
        st.end = pos;
        return st;
      };
      KvRows k_rows[kMaxSpans], v_rows[kMaxSpans];
      for (Step cur = build(j_begin), nxt = build(cur.end); cur.count > 0; cur = nxt, nxt = build(cur.end)) {
        const int64_t n = cur.keys;
        for (int64_t rl = 0; rl < Rh; ++rl) {
          int64_t vis = 0, low = 0;
          for (int i = 0; i < cur.count; ++i) {
            const Span& sp = cur.sp[i];
            vis += std::clamp<int64_t>(hi_r[static_cast<size_t>(rl)] - sp.pos, 0, sp.n);
            low +=
                std::clamp<int64_t>(lo_r[static_cast<size_t>(rl)] - sp.pos, 0, sp.n);  // left of the window
          }
          visible[static_cast<size_t>(rl)] = vis;
          below[static_cast<size_t>(rl)] = low;
        }
        for (int64_t hh = 0; hh < nh; ++hh) {
          const int64_t hk = u.hk0 + hh;
          // While this head is computed, the rows kPrefetchHeads (step, head) pairs ahead are
          // prefetched: blocks are scattered, so no hardware streamer or stride finds them.
          const int64_t ahead = hh + kPrefetchHeads;
          const Step& ts = ahead < nh ? cur : nxt;
          const int64_t th = u.hk0 + ahead % nh;
          for (int i = 0; i < cur.count; ++i) {
            const Span& sp = cur.sp[i];
            const char* kr = k_row(sp.id, sp.slot, hk);
            const char* vr = v_row(sp.id, sp.slot, hk);
            int64_t k_pf = 0, v_pf = 0;
            if (ts.count > 0) {
              const Span& t = ts.sp[std::min(i, ts.count - 1)];
              k_pf = k_row(t.id, t.slot, th) - kr;
              v_pf = v_row(t.id, t.slot, th) - vr;
              if (!use_avx512) prefetch_rows(c.k, t.id, t.slot, sp.n, th, row_bytes);
            }
            k_rows[i] = KvRows{kr, sp.n, k_pf};
            v_rows[i] = KvRows{vr, sp.n, v_pf};
          }
          float* qh = q.data() + hh * Rh * D;
          float* ah = acc.data() + hh * Rh * D;
          float* mh = m.data() + hh * Rh;
          float* lh = l.data() + hh * Rh;
          bool int_v = false;
          if (row_scales && hh == 0)  // the next step's scales (a line holds a few slots of every head)
            for (int i = 0; i < nxt.count; ++i)
              for (int64_t j = 0; j < nxt.sp[i].n; ++j) {
                const Span& t = nxt.sp[i];
                __builtin_prefetch(
                    &ks_base[t.id * c.k_scales.strides[0] + (t.slot + j) * c.k_scales.strides[1]]);
                __builtin_prefetch(
                    &vs_base[t.id * c.v_scales.strides[0] + (t.slot + j) * c.v_scales.strides[1]]);
              }
          if (row_scales && hh == 0) {  // this step's scales of every head: each line read once
            std::fill_n(vfinite.begin(), nh, char{1});
            const int64_t k0 = c.k_scales.strides[0], k1 = c.k_scales.strides[1], k2 = c.k_scales.strides[2];
            const int64_t v0 = c.v_scales.strides[0], v1 = c.v_scales.strides[1], v2 = c.v_scales.strides[2];
#if defined(PORTA_CPU_X86)
            if (use_avx512 && nh == 8 && k2 == 1 && v2 == 1) {  // 8 contiguous heads: 8x8 transposes
              const float* kp[kStepKeysI8];
              const float* vp[kStepKeysI8];
              int64_t cnt = 0;
              for (int i = 0; i < cur.count; ++i)
                for (int64_t j = 0; j < cur.sp[i].n && cnt < kStepKeysI8; ++j, ++cnt) {
                  const Span& sp = cur.sp[i];
                  kp[cnt] = ks_base + sp.id * k0 + (sp.slot + j) * k1 + u.hk0;
                  vp[cnt] = vs_base + sp.id * v0 + (sp.slot + j) * v1 + u.hk0;
                }
              avx512::scales_by_head8(kp, cnt, kscale.data(), static_cast<int64_t>(n_max));
              const unsigned ok =
                  avx512::scales_by_head8(vp, cnt, vscale.data(), static_cast<int64_t>(n_max));
              for (int64_t h = 0; h < 8; ++h)
                vfinite[static_cast<size_t>(h)] = static_cast<char>(ok >> h & 1);
            } else
#endif
              for (int i = 0, off = 0; i < cur.count; off += static_cast<int>(cur.sp[i].n), ++i) {
                const Span& sp = cur.sp[i];
                for (int64_t j = 0; j < sp.n; ++j) {
                  const float* kp = ks_base + sp.id * k0 + (sp.slot + j) * k1 + u.hk0 * k2;
                  const float* vp = vs_base + sp.id * v0 + (sp.slot + j) * v1 + u.hk0 * v2;
                  for (int64_t h = 0; h < nh; ++h) {
                    const float x = vp[h * v2];
                    kscale[static_cast<size_t>(h) * n_max + static_cast<size_t>(off + j)] = kp[h * k2];
                    vscale[static_cast<size_t>(h) * n_max + static_cast<size_t>(off + j)] = x;
                    vfinite[static_cast<size_t>(h)] &= std::fabs(x) <= std::numeric_limits<float>::max();
                  }
                }
              }
          }
          const float* const ksc = row_scales ? kscale.data() + static_cast<size_t>(hh) * n_max : nullptr;
          float* const vsc = row_scales ? vscale.data() + static_cast<size_t>(hh) * n_max : nullptr;
          if (row_scales) int_v = vnni && vfinite[static_cast<size_t>(hh)];
#if defined(PORTA_CPU_X86)
          if (int_q && int_v && Rh % 4 == 0) {  // the fused int8 step, four rows at a time
            for (int64_t r = 0; r < Rh; r += 4)
              avx512::step_i8(q16.data() + (hh * Rh + r) * D, qscale.data() + hh * Rh + r, D, k_rows, v_rows,
                              cur.count, ks, vs, ksc, vsc, below.data() + r, visible.data() + r, mh + r,
                              lh + r, ah + r * D);
            continue;
          }
#endif
          if (use_avx512) {
#if defined(PORTA_CPU_X86)
            if (int_q)
              avx512::scores_i8(q16.data() + hh * Rh * D, qscale.data() + hh * Rh, Rh, D, k_rows, cur.count,
                                ks, ksc, n, s.data());
            else
              avx512::scores_paged(elem, qh, Rh, D, k_rows, cur.count, ks, n, s.data());
#endif
            if (row_scales && !int_q)
              for (int64_t r = 0; r < Rh; ++r)
                for (int64_t j = 0; j < n; ++j) s[static_cast<size_t>(r * n + j)] *= ksc[j];
          } else if (direct) {
            direct->scores(c.k.dtype, qh, Rh, D, k_rows[0].p, ks, n, s.data());
          } else {
            const Span& sp = cur.sp[0];
            dequantize_rows(c, c.k, c.k_scales, fp8k.get(), sp.id, sp.slot, n, hk, D, kb.data());
            dequantize_rows(c, c.v, c.v_scales, fp8v.get(), sp.id, sp.slot, n, hk, D, vb.data());
            kf32.scores(DType::f32, qh, Rh, D, kb.data(), D, n, s.data());
          }
          for (int64_t r = 0; r < Rh; ++r)
            for (int64_t j = 0; j < below[static_cast<size_t>(r)]; ++j)
              s[static_cast<size_t>(r * n + j)] = neg_inf;
          kern.softmax(s.data(), Rh, n, visible.data(), mh, lh, ah, D);
          if (!use_avx512 && ts.count > 0) {
            const Span& t = ts.sp[0];
            prefetch_rows(c.v, t.id, t.slot, cur.sp[0].n, th, row_bytes);
          }
          if (use_avx512) {
#if defined(PORTA_CPU_X86)
            if (int_v) {
              avx512::accumulate_i8(s.data(), vsc, Rh, n, v_rows, cur.count, vs, D, ah);
            } else {
              if (row_scales)
                for (int64_t r = 0; r < Rh; ++r)
                  for (int64_t j = 0; j < n; ++j) s[static_cast<size_t>(r * n + j)] *= vsc[j];
              avx512::accumulate_paged(elem, s.data(), Rh, n, v_rows, cur.count, vs, D, ah);
            }
#endif
          } else if (direct)
            direct->accumulate(c.v.dtype, s.data(), Rh, n, v_rows[0].p, vs, D, ah);
          else
            kf32.accumulate(DType::f32, s.data(), Rh, n, vb.data(), D, D, ah);
        }
      }
      float* P = part.data() + u.part_off;
      for (int64_t r = 0; r < R; ++r) {
        float* pr = P + (r * u.chunks + task.chunk) * pstride;
        pr[0] = m[static_cast<size_t>(r)];
        pr[1] = l[static_cast<size_t>(r)];
        std::copy_n(acc.data() + r * D, D, pr + 2);
      }
      if (done[task.unit].fetch_add(1, std::memory_order_acq_rel) + 1 != u.chunks) continue;
      // Last chunk of the unit: fold the partials of each row.
      for (int64_t r = 0; r < R; ++r) {
        const float* pr = P + r * u.chunks * pstride;
        float mx = neg_inf;
        for (int64_t ch = 0; ch < u.chunks; ++ch) mx = std::max(mx, pr[ch * pstride]);
        std::fill(row.begin(), row.end(), 0.0f);
        float sum = 0.0f;
        if (mx != neg_inf)
          for (int64_t ch = 0; ch < u.chunks; ++ch) {
            const float* x = pr + ch * pstride;
            if (x[0] == neg_inf) continue;
            const float w = std::exp(x[0] - mx);
            sum += w * x[1];
            for (int64_t d = 0; d < D; ++d) row[static_cast<size_t>(d)] += w * x[2 + d];
          }
        const float inv = sum > 0.0f ? out_mul / sum : 0.0f;
        const int64_t hh = r / Rh, rl = r % Rh;
        const int64_t i = u.i0 + rl / group, h = (u.hk0 + hh) * group + rl % group, t = u.q_row0 + i;
        char* orow = a.out.host<char>() + (t * a.out.strides[0] + h * a.out.strides[1]) * o_es;
        for (int64_t d = 0; d < D; ++d) row[static_cast<size_t>(d)] *= inv;
        if (a.out.strides[2] == 1)
          convert_row_from_f32(a.out.dtype, row.data(), orow, D);
        else
          for (int64_t d = 0; d < D; ++d)
            store_f32(a.out.dtype, orow, d * a.out.strides[2], row[static_cast<size_t>(d)]);
        if (a.lse)
          a.lse->host<float>()[t * a.lse->strides[0] + h * a.lse->strides[1]] =
              sum > 0.0f ? mx + std::log(sum) : neg_inf;
      }
    }
  });
}

}  // namespace porta::cpu
