// Paged attention (porta/serving.h): the split-KV decode of attention_decode.cl with
// block-table address translation, for decode, chunked prefill and mixed batches alike. A
// work-item owns one (sequence, KV head, tile of query heads of the GQA group, tile of query
// positions, KV split): its rows (GH heads x QP positions, at most 16) share every K/V row it
// reads. Keys go in 16-key sub-blocks (16 divides every block size, so a sub-block lies in
// one cache block), converted to f32 once: plain caches widened, int8 codes times their
// per-row scale, fp8 e4m3fn codes through the f16 bit pattern times the layer scale.
// Device values are clamped here (cu_seqlens_q to [0, T], query counts to [0, max_q],
// lengths to [0, max_k]); a sub-block whose table entry is outside [0, num_blocks) is
// skipped, so no bad value reads outside the cache. With one split the item writes the
// output (and LSE) rows; with several, partials (max, sum, accumulators) go to `work` for
// paged_combine. Compile-time: DT (q/out dtype), KT (plain cache dtype), KF (0 plain,
// 1 int8, 2 fp8), VW (4, 8, 16), GH, QP.
#include "decode_common.cl"

inline int idx_at(global const uchar* p, long off, long i) { return ((global const int*)(p + off))[i]; }

// CPU devices: software prefetch of the next 16-key sub-block's K and V rows (clang's builtin,
// which PoCL compiles with), one row per row loaded, so the prefetches spread through the loads
// instead of stalling issue in a burst. Blocks are scattered and a block's rows of one head lie
// Hkv rows apart, so the hardware prefetcher finds neither (as in the cpu backend's kernel).
#define ES_CACHE (KF != 0 ? 1 : KT == DT_F32 ? 4 : 2)
#if CPU_LAYOUT && defined(__clang__)
#define PREFETCH 1
#else
#define PREFETCH 0
#endif

// fp8 e4m3fn codes as f32: the code's bits moved into an f16 pattern (exponent bias 15 vs 7:
// a factor 2^8, exact for subnormals too), NaN codes (S.1111.111) made NaN.
inline float8 fp8x8_to_float8(uchar8 c) {
  const ushort8 u = convert_ushort8(c);
  const ushort8 h = ((u & (ushort)0x80) << 8) | ((u & (ushort)0x7f) << 7);
  const float8 f = half8_bits_to_float8(h) * 256.0f;
  return select(f, (float8)(NAN), convert_int8((u & (ushort)0x7f) == (ushort)0x7f));
}

// Eight elements [e, e + 8) of cache row `row` (element index of the row's first element).
inline float8 load_cache8(global const uchar* base, long off, long row, int e, float row_scale) {
#if KF == 0
  return load8_c(base, off, KT, row + e);
#elif KF == 1
  return convert_float8(vload8(0, (global const char*)(base + off) + row + e)) * row_scale;
#else
  return fp8x8_to_float8(vload8(0, (global const uchar*)(base + off) + row + e)) * row_scale;
#endif
}


#ifdef HEAD_D
// CPU devices (tuning row decode_grouped): VW elements [e, e + VW) of cache row `row` for
// decode_span (decode_span.cl), converted in registers.
inline fv load_cache_w(global const uchar* base, long off, long row, int e, float row_scale) {
#if KF == 0
  return loadw_c(base, off, KT, row + e);
#elif VW == 16 && KF == 1
  return convert_float16(vload16(0, (global const char*)(base + off) + row + e)) * row_scale;
#elif VW == 16
  global const uchar* c = base + off + row + e;
  return (float16)(fp8x8_to_float8(vload8(0, c)), fp8x8_to_float8(vload8(1, c))) * row_scale;
#else
  return load_cache8(base, off, row, e, row_scale);
#endif
}
#define KV_LOADW(base, off, row, e, scl) load_cache_w(base, off, row, e, scl)
#if PREFETCH
#define KV_PREFETCH(base, off, row)                  \
  for (int pf_ = 0; pf_ < HEAD_D * ES_CACHE; pf_ += 64) \
  __builtin_prefetch((base) + (off) + (row) * ES_CACHE + pf_)
#endif
#include "decode_span.cl"
#endif
#define R_TILE (GH * QP)
#define R4 ((R_TILE + 3) & ~3)

// This work-item's (split, g tile, kv head, q tile, sequence): the global id is
// ((((b * q_tiles + qt) * Hkv + hk) * g_tiles + gt) * splits + split. False past the grid.
inline bool paged_item(int B, int q_tiles, int Hkv, int g_tiles, int splits, int* split, int* gt, int* hk, int* qt,
                       int* b) {
  long gid = get_global_id(0);
  if (gid >= (long)B * q_tiles * Hkv * g_tiles * splits) return false;
  *split = gid % splits;
  gid /= splits;
  *gt = gid % g_tiles;
  gid /= g_tiles;
  *hk = gid % Hkv;
  gid /= Hkv;
  *qt = gid % q_tiles;
  *b = gid / q_tiles;
  return true;
}

// A sequence's clamped query rows [c0, c0 + qlen) and KV length.
inline void seq_bounds(global const uchar* cu, long cu_off, long cu_st, global const uchar* lens, long lens_off,
                       long lens_st, int b, int T, int max_q, int max_k, int* c0, int* qlen, int* len) {
  const int a0 = clamp(idx_at(cu, cu_off, b * cu_st), 0, T), a1 = clamp(idx_at(cu, cu_off, (b + 1) * cu_st), 0, T);
  *c0 = a0;
  *qlen = clamp(a1 - a0, 0, max_q);
  *len = clamp(idx_at(lens, lens_off, b * lens_st), 0, max_k);
}

// Rows r = (i - i0) * GH + (g - gt * GH) of a work-item (R4 of them, D floats each): q scaled
// by q_mul, zero accumulators, (m, l) = (-inf, 0), and the keys each row sees, [lo_r, hi_r)
// (empty for rows past the sequence's queries or the group); [*lo_t, *hi_t): their union.
inline void paged_rows_init(global const uchar* q, long q_off, long4 q_st, int D, int G, int hk, int gt, int i0,
                            int c0, int qlen, int len, int causal, int window, float q_mul, float* qs, float* acc,
                            float* m, float* l, int* lo_r, int* hi_r, int* lo_t, int* hi_t) {
  *lo_t = len;
  *hi_t = 0;
  for (int r = 0; r < R4; ++r) {
    const int i = i0 + r / GH, g = gt * GH + r % GH;
    const bool valid = r < R_TILE && i < qlen && g < G;
    const int p = len - qlen + i;
    hi_r[r] = !valid ? 0 : causal ? clamp(p + 1, 0, len) : len;
    // In 64 bits: p may be negative (more queries than keys) and window up to INT_MAX.
    lo_r[r] = !valid ? 0 : window > 0 ? (int)clamp((long)p - window + 1, 0L, (long)len) : 0;
    if (valid && hi_r[r] > lo_r[r]) *lo_t = min(*lo_t, lo_r[r]), *hi_t = max(*hi_t, hi_r[r]);
    const long qrow = (c0 + (long)i) * q_st.s1 + (hk * G + g) * q_st.s2;
    for (int c = 0; c < D / 8; ++c) {
      const float8 qv = valid ? load8_f(q, q_off, DT, qrow + 8 * c * q_st.s3, q_st.s3) * q_mul : (float8)(0.0f);
      vstore8(qv, 0, qs + r * D + 8 * c);
      vstore8((float8)(0.0f), 0, acc + r * D + 8 * c);
    }
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
}

// The finished rows: normalised output (and LSE) with one split, else the partial (m, l, D sums)
// for paged_combine.
inline void paged_rows_write(int D, int G, int Hq, int hk, int gt, int i0, int b, int c0, int qlen, int max_q,
                             int splits, int split, const float* acc, const float* m, const float* l, TENSOR_OUT(o),
                             global uchar* lse, long lse_off, long lse_s0, long lse_s1, int has_lse,
                             global float* work) {
  for (int r = 0; r < R_TILE; ++r) {
    const int i = i0 + r / GH, g = gt * GH + r % GH, h = hk * G + g;
    if (i >= qlen || g >= G) continue;
    if (splits == 1) {
      const long t = c0 + (long)i;
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      const long orow = t * o_st.s1 + h * o_st.s2;
      for (int d = 0; d < D; ++d) store_f(o, o_off, DT, orow + d * o_st.s3, acc[r * D + d] * inv);
      if (has_lse)
        ((global float*)(lse + lse_off))[t * lse_s0 + h * lse_s1] = l[r] > 0.0f ? m[r] + log(l[r]) : -INFINITY;
    } else {
      const long row = ((long)b * max_q + i) * Hq + h;
      global float* w = work + (row * splits + split) * (long)(D + 2);
      w[0] = m[r];
      w[1] = l[r];
      for (int c = 0; c < D / 8; ++c) vstore8(vload8(c, acc + r * D), c, w + 2);
    }
  }
}

kernel void paged_attention(int T, int Hq, int Hkv, int D, int B, int max_q, int max_k, int num_blocks, int bs,
                            int max_blocks, int causal, int window, float scale, int splits, int chunk, int q_tiles,
                            int g_tiles, TENSOR_IN(q), TENSOR_IN(k), TENSOR_IN(v), TENSOR_OUT(o), TENSOR_IN(ks),
                            TENSOR_IN(vs), float k_scale, float v_scale, TENSOR_IN(tab), TENSOR_IN(cu),
                            TENSOR_IN(lens), global uchar* lse, long lse_off, long lse_s0, long lse_s1, int has_lse,
                            global float* work) {
  int split, gt, hk, qt, b;
  if (!paged_item(B, q_tiles, Hkv, g_tiles, splits, &split, &gt, &hk, &qt, &b)) return;
  const int G = Hq / Hkv;
  int c0, qlen, len;
  seq_bounds(cu, cu_off, cu_st.s3, lens, lens_off, lens_st.s3, b, T, max_q, max_k, &c0, &qlen, &len);
  const int i0 = qt * QP;
  if (i0 >= qlen) return;  // (paged_combine skips these rows too)

  float qs[MAX_R * MAX_D], acc[MAX_R * MAX_D], sc[MAX_R * BKD], m[MAX_R], l[MAX_R], corr[MAX_R];
  int lo_r[MAX_R], hi_r[MAX_R], lo_t, hi_t;
  paged_rows_init(q, q_off, q_st, D, G, hk, gt, i0, c0, qlen, len, causal, window,
                  scale * (KF == 2 ? k_scale : 1.0f), qs, acc, m, l, lo_r, hi_r, &lo_t, &hi_t);
  const int begin = max(split * chunk, lo_t & ~(BKD - 1)), stop = min(hi_t, (split + 1) * chunk);

  float kf[BKD * MAX_D], vf[BKD * MAX_D];
  for (int i = 0; i < BKD * D / 8; ++i) vstore8((float8)(0.0f), i, kf);
  for (int i = 0; i < BKD * D / 8; ++i) vstore8((float8)(0.0f), i, vf);
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int j0 = begin; j0 < stop; j0 += BKD) {
    const int blk = j0 / bs;
    if (blk >= max_blocks) break;
    const int id = idx_at(tab, tab_off, b * tab_st.s2 + blk * tab_st.s3);
    if (id < 0 || id >= num_blocks) continue;  // a bad block id: its keys are skipped
    const int slot0 = j0 - blk * bs, nb = min(BKD, stop - j0);
#if PREFETCH
    // The next sub-block's first rows: (block id, slot) or none.
    int pf_id = -1, pf_slot = 0, pf_n = 0;
    if (j0 + BKD < stop) {
      const int bn = (j0 + BKD) / bs;
      pf_id = bn == blk ? id : bn < max_blocks ? idx_at(tab, tab_off, b * tab_st.s2 + bn * tab_st.s3) : -1;
      pf_slot = j0 + BKD - bn * bs;
      pf_n = min(BKD, stop - j0 - BKD);
      if (pf_id >= num_blocks) pf_id = -1;
    }
#endif
    for (int jj = 0; jj < nb; ++jj) {
      const long krow = id * k_st.s0 + (slot0 + jj) * k_st.s1 + hk * k_st.s2;
      const long vrow = id * v_st.s0 + (slot0 + jj) * v_st.s1 + hk * v_st.s2;
#if KF == 1
      const long srow_k = id * ks_st.s1 + (slot0 + jj) * ks_st.s2 + hk * ks_st.s3;
      const long srow_v = id * vs_st.s1 + (slot0 + jj) * vs_st.s2 + hk * vs_st.s3;
      const float kscl = ((global const float*)(ks + ks_off))[srow_k];
      const float vscl = ((global const float*)(vs + vs_off))[srow_v];
#else
      const float kscl = 1.0f, vscl = v_scale;
#endif
#if PREFETCH
      if (pf_id >= 0 && jj < pf_n) {
        const long pk = pf_id * k_st.s0 + (pf_slot + jj) * k_st.s1 + hk * k_st.s2;
        const long pv = pf_id * v_st.s0 + (pf_slot + jj) * v_st.s1 + hk * v_st.s2;
        for (int pf = 0; pf < D * ES_CACHE; pf += 64) {
          __builtin_prefetch(k + k_off + pk * ES_CACHE + pf);
          __builtin_prefetch(v + v_off + pv * ES_CACHE + pf);
        }
      }
#endif
      for (int c = 0; c < D / 8; ++c) {
        vstore8(load_cache8(k, k_off, krow, 8 * c, kscl), 0, kf + jj * D + 8 * c);
        vstore8(load_cache8(v, v_off, vrow, 8 * c, vscl), 0, vf + jj * D + 8 * c);
      }
    }
    // Scores and the online softmax, a row at a time; p goes to sc (0 for keys a row does not see).
    for (int r = 0; r < R4; ++r) {
      const int lim = min(nb, hi_r[r] - j0), first = max(0, lo_r[r] - j0);
      if (lim <= first) {
        vstore16((float16)(0.0f), 0, sc + r * BKD);
        corr[r] = 1.0f;
        continue;
      }
      float st[BKD];
      for (int jj = 0; jj < lim; jj += 4) {
        fv a0 = (fv)(0.0f), a1 = (fv)(0.0f), a2 = (fv)(0.0f), a3 = (fv)(0.0f);
        for (int c = 0; c < D / VW; ++c) {
          const fv qv = VLOADW(c, qs + r * D);
          a0 = FMA(qv, VLOADW(c, kf + jj * D), a0);
          a1 = FMA(qv, VLOADW(c, kf + (jj + 1) * D), a1);
          a2 = FMA(qv, VLOADW(c, kf + (jj + 2) * D), a2);
          a3 = FMA(qv, VLOADW(c, kf + (jj + 3) * D), a3);
        }
        vstore4(hsum4(a0, a1, a2, a3), 0, st + jj);
      }
      const float16 s16 = select(vload16(0, st), (float16)(-INFINITY), (lane >= lim) | (lane < first));
      const float m_new = fmax(m[r], hmax16(s16));
      corr[r] = exp(m[r] - m_new);
      const float16 p = exp(s16 - m_new);
      l[r] = l[r] * corr[r] + hsum16(p);
      m[r] = m_new;
      vstore16(p, 0, sc + r * BKD);
    }
    for (int r = 0; r < R4; r += 4) {
      for (int c = 0; c < D / VW; ++c) {
        fv a0 = VLOADW(c, acc + r * D) * corr[r], a1 = VLOADW(c, acc + (r + 1) * D) * corr[r + 1];
        fv a2 = VLOADW(c, acc + (r + 2) * D) * corr[r + 2], a3 = VLOADW(c, acc + (r + 3) * D) * corr[r + 3];
        for (int jj = 0; jj < nb; ++jj) {
          const fv vv = VLOADW(c, vf + jj * D);
          a0 = FMA((fv)(sc[r * BKD + jj]), vv, a0);
          a1 = FMA((fv)(sc[(r + 1) * BKD + jj]), vv, a1);
          a2 = FMA((fv)(sc[(r + 2) * BKD + jj]), vv, a2);
          a3 = FMA((fv)(sc[(r + 3) * BKD + jj]), vv, a3);
        }
        VSTOREW(a0, c, acc + r * D);
        VSTOREW(a1, c, acc + (r + 1) * D);
        VSTOREW(a2, c, acc + (r + 2) * D);
        VSTOREW(a3, c, acc + (r + 3) * D);
      }
    }
  }

  paged_rows_write(D, G, Hq, hk, gt, i0, b, c0, qlen, max_q, splits, split, acc, m, l, o, o_off, o_st, lse,
                   lse_off, lse_s0, lse_s1, has_lse, work);
}

#ifdef HEAD_D
// paged_attention on CPU devices: the same work-items, splits and outputs, the head dim fixed
// at compile time, and the keys walked by decode_span (decode_span.cl) in spans of up to SPAN
// keys gathered through the block table (K pass, softmax, V pass; each cache vector feeds four
// rows). A span ends before a block outside the table or with a bad id; that block is skipped.
kernel void paged_attention_grouped(int T, int Hq, int Hkv, int D, int B, int max_q, int max_k, int num_blocks,
                                    int bs, int max_blocks, int causal, int window, float scale, int splits,
                                    int chunk, int q_tiles, int g_tiles, TENSOR_IN(q), TENSOR_IN(k), TENSOR_IN(v),
                                    TENSOR_OUT(o), TENSOR_IN(ks), TENSOR_IN(vs), float k_scale, float v_scale,
                                    TENSOR_IN(tab), TENSOR_IN(cu), TENSOR_IN(lens), global uchar* lse, long lse_off,
                                    long lse_s0, long lse_s1, int has_lse, global float* work) {
  int split, gt, hk, qt, b;
  if (!paged_item(B, q_tiles, Hkv, g_tiles, splits, &split, &gt, &hk, &qt, &b)) return;
  const int G = Hq / Hkv;
  int c0, qlen, len;
  seq_bounds(cu, cu_off, cu_st.s3, lens, lens_off, lens_st.s3, b, T, max_q, max_k, &c0, &qlen, &len);
  const int i0 = qt * QP;
  if (i0 >= qlen) return;  // (paged_combine skips these rows too)

  float qs[MAX_R * HEAD_D], acc[MAX_R * HEAD_D], m[MAX_R], l[MAX_R], kscl[SPAN], vscl[SPAN];
  int lo_r[MAX_R], hi_r[MAX_R], first[MAX_R], lim[MAX_R], lo_t, hi_t;
  long krow[SPAN], vrow[SPAN];
  paged_rows_init(q, q_off, q_st, HEAD_D, G, hk, gt, i0, c0, qlen, len, causal, window,
                  scale * (KF == 2 ? k_scale : 1.0f), qs, acc, m, l, lo_r, hi_r, &lo_t, &hi_t);
  const int stop = min(hi_t, (split + 1) * chunk);
  int s0 = max(split * chunk, lo_t);
  while (s0 < stop) {
    // The span's keys: runs of consecutive slots through valid blocks, up to SPAN of them.
    int nb = 0;
    while (nb < SPAN && s0 + nb < stop) {
      const int j = s0 + nb, blk = j / bs;
      if (blk >= max_blocks) break;
      const int id = idx_at(tab, tab_off, b * tab_st.s2 + blk * tab_st.s3);
      if (id < 0 || id >= num_blocks) break;
      const int slot = j - blk * bs, n = min(min(bs - slot, SPAN - nb), stop - j);
      for (int t = 0; t < n; ++t) {
        krow[nb + t] = id * k_st.s0 + (slot + t) * k_st.s1 + hk * k_st.s2;
        vrow[nb + t] = id * v_st.s0 + (slot + t) * v_st.s1 + hk * v_st.s2;
#if KF == 1
        kscl[nb + t] = ((global const float*)(ks + ks_off))[id * ks_st.s1 + (slot + t) * ks_st.s2 + hk * ks_st.s3];
        vscl[nb + t] = ((global const float*)(vs + vs_off))[id * vs_st.s1 + (slot + t) * vs_st.s2 + hk * vs_st.s3];
#else
        kscl[nb + t] = 1.0f;
        vscl[nb + t] = v_scale;
#endif
      }
      nb += n;
    }
    if (nb == 0) {  // s0 lies in a block past the table (no more keys) or with a bad id (skipped)
      const int blk = s0 / bs;
      if (blk >= max_blocks) break;
      s0 = (blk + 1) * bs;
      continue;
    }
    for (int jj = nb; jj < SPAN; ++jj) {  // decode_span reads whole 4-key groups: repeat the last key
      krow[jj] = krow[nb - 1];
      vrow[jj] = vrow[nb - 1];
      kscl[jj] = kscl[nb - 1];
      vscl[jj] = vscl[nb - 1];
    }
    for (int r = 0; r < R4; ++r) {
      first[r] = clamp(lo_r[r] - s0, 0, nb);
      lim[r] = clamp(hi_r[r] - s0, 0, nb);
    }
    decode_span(qs, acc, m, l, first, lim, R4, nb, k, k_off, v, v_off, krow, vrow, kscl, vscl, 0);
    s0 += nb;
  }
  paged_rows_write(HEAD_D, G, Hq, hk, gt, i0, b, c0, qlen, max_q, splits, split, acc, m, l, o, o_off, o_st, lse,
                   lse_off, lse_s0, lse_s1, has_lse, work);
}
#endif

// Merges the splits of row (b, i, h): out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M);
// splits that saw no key (m = -inf) add nothing; a row no split saw is zeros (LSE -inf).
// Work-item (d, row), row = (b * max_q + i) * Hq + h; rows past a sequence's queries exit.
kernel void paged_combine(int T, int Hq, int D, int B, int max_q, int splits, TENSOR_OUT(o), TENSOR_IN(cu),
                          TENSOR_IN(lens), global uchar* lse, long lse_off, long lse_s0, long lse_s1, int has_lse,
                          global const float* work) {
  const int d = get_global_id(0);
  const long row = get_global_id(1);
  if (d >= D || row >= (long)B * max_q * Hq) return;
  const int h = row % Hq, i = (row / Hq) % max_q, b = row / ((long)Hq * max_q);
  int c0, qlen, len;
  seq_bounds(cu, cu_off, cu_st.s3, lens, lens_off, lens_st.s3, b, T, max_q, INT_MAX, &c0, &qlen, &len);
  if (i >= qlen) return;
  global const float* w = work + row * splits * (long)(D + 2);
  float mx = -INFINITY;
  for (int s = 0; s < splits; ++s) mx = fmax(mx, w[s * (D + 2)]);
  float num = 0.0f, den = 0.0f;
  if (mx != -INFINITY) {
    for (int s = 0; s < splits; ++s) {
      const float ms = w[s * (D + 2)];
      if (ms == -INFINITY) continue;
      const float f = exp(ms - mx);
      den += w[s * (D + 2) + 1] * f;
      num += w[s * (D + 2) + 2 + d] * f;
    }
  }
  const long t = c0 + (long)i;
  store_f(o, o_off, DT, t * o_st.s1 + h * o_st.s2 + d * o_st.s3, den > 0.0f ? num / den : 0.0f);
  if (has_lse && d == 0)
    ((global float*)(lse + lse_off))[t * lse_s0 + h * lse_s1] = den > 0.0f ? mx + log(den) : -INFINITY;
}
