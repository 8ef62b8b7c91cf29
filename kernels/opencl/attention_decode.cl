// Decode attention (few query rows, long KV), split-KV ("flash decoding"). A work-item owns
// one (batch, KV head, KV split) and every query row that reads that KV head: the G = Hq/Hkv
// heads of the GQA group times Sq positions (R rows, at most MAX_R), so each K/V element is read
// from memory once. Keys go in blocks of 16: the block's K and V rows are converted to f32
// once (wide vector loads), scores are dot products along D in VW-wide vectors, and the online
// softmax updates 16 scores per row in one float16. With more than one split, the partial
// (max, sum, accumulator) of each row goes to `work` and attention_combine merges them.
// Causal rows see keys j <= s + (kv_len - Sq); kv lengths clamp to [0, Skv]; keys at or past
// a row's end are never read. Compile-time: DT, VW (4, 8, 16).
#include "decode_common.cl"
#define KV_LOADW(base, off, row, e, scl) loadw_c(base, off, DT, (row) + (e))
#if CPU_LAYOUT && defined(__clang__) && defined(HEAD_D)
#define KV_ES (DT == DT_F32 ? 4 : 2)
#define KV_PREFETCH(base, off, row)                                                        \
  for (int pf_ = 0; pf_ < HEAD_D * KV_ES; pf_ += 64) __builtin_prefetch((base) + (off) + (row) * KV_ES + pf_)
#define KV_PREFETCH_L2(base, off, row)                                                     \
  for (int pf_ = 0; pf_ < HEAD_D * KV_ES; pf_ += 64) __builtin_prefetch((base) + (off) + (row) * KV_ES + pf_, 0, 2)
#endif
#include "decode_span.cl"
// CPU devices: software prefetch of the rows two blocks ahead (clang's builtin, which PoCL
// compiles with); a decode thread walks two streams and the hardware prefetcher alone leaves
// much of the memory bandwidth unused.
#if CPU_LAYOUT && defined(__clang__)
#define PREFETCH_ROWS(kp, krow, vp, vrow)                                                                    \
  do {                                                                                                       \
    for (int pf = 0; pf < D * (DT == DT_F32 ? 4 : 2); pf += 64) {                                            \
      __builtin_prefetch((global const uchar*)(kp) + ((krow) + 2 * BKD * k_st.s2) * (DT == DT_F32 ? 4 : 2) + \
                         pf);                                                                                \
      __builtin_prefetch((global const uchar*)(vp) + ((vrow) + 2 * BKD * v_st.s2) * (DT == DT_F32 ? 4 : 2) + \
                         pf);                                                                                \
    }                                                                                                        \
  } while (0)
#else
#define PREFETCH_ROWS(kp, krow, vp, vrow)
#endif

// This work-item's batch entry, KV head, split, KV length (clamped to [0, Skv]) and key range
// [begin, stop); the global id is (b * Hkv + hk) * splits + split. False past the grid.
inline bool decode_item(int B, int Hkv, int Skv, int splits, int chunk, global const int* lens, long lens_off,
                        long lens_st, int has_lens, int* b, int* hk, int* split, int* kv_len, int* begin,
                        int* stop) {
  const int gid = get_global_id(0);
  if (gid >= B * Hkv * splits) return false;
  const int bk = gid / splits;
  *split = gid - bk * splits;
  *b = bk / Hkv;
  *hk = bk - *b * Hkv;
  *kv_len = has_lens ? clamp(lens[lens_off / 4 + *b * lens_st], 0, Skv) : Skv;
  *begin = min(*kv_len, *split * chunk);
  *stop = min(*kv_len, *begin + chunk);
  return true;
}

// The rows (r = g * Sq + s: head hk * G + g, query s of batch b) a decode work-item finished:
// normalised into out when the KV range was not split, else its partial (m, l, D sums) for
// attention_combine.
void write_rows(int R, int Sq, int G, int b, int Hq, int hk, int D, int splits, int split, const float* acc,
                const float* m, const float* l, TENSOR_OUT(o), global float* work) {
  for (int r = 0; r < R; ++r) {
    const int g = r / Sq, s = r - g * Sq;
    const long row = ((long)b * Hq + hk * G + g) * Sq + s;
    if (splits == 1) {
      const long orow = b * o_st.s0 + (hk * G + g) * o_st.s1 + s * o_st.s2;
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      for (int d = 0; d < D; ++d) store_f(o, o_off, DT, orow + d * o_st.s3, acc[r * D + d] * inv);
    } else {
      global float* w = work + (row * splits + split) * (long)(D + 2);
      w[0] = m[r];
      w[1] = l[r];
      for (int c = 0; c < D / 8; ++c) vstore8(vload8(c, acc + r * D), c, w + 2);
    }
  }
}

kernel void attention_decode(int B, int Hq, int Hkv, int Sq, int Skv, int D, int causal, float scale,
                             int splits, int chunk, TENSOR_IN(q), TENSOR_IN(k), TENSOR_IN(v), TENSOR_OUT(o),
                             global const int* lens, long lens_off, long lens_st, int has_lens,
                             global float* work) {
  int b, hk, split, kv_len, begin, stop;
  if (!decode_item(B, Hkv, Skv, splits, chunk, lens, lens_off, lens_st, has_lens, &b, &hk, &split, &kv_len, &begin,
                   &stop))
    return;
  const int G = Hq / Hkv, R = G * Sq;

  // Rows r = g * Sq + s (query head hk * G + g, position s): scaled q, accumulators, ends.
  // Arrays cover R rounded up to 4 rows (the P·V loop takes rows four at a time).
  float qs[MAX_R * MAX_D], acc[MAX_R * MAX_D], sc[MAX_R * BKD], m[MAX_R], l[MAX_R], corr[MAX_R];
  int ends[MAX_R];
  const int R4 = (R + 3) & ~3;
  int stop_all = begin;
  for (int r = 0; r < R4; ++r) {
    const int g = r / Sq, s = r - g * Sq;
    ends[r] = r >= R ? 0 : causal ? clamp(s + kv_len - Sq + 1, 0, stop) : stop;
    stop_all = max(stop_all, ends[r]);
    const long qrow = b * q_st.s0 + (hk * G + g) * q_st.s1 + s * q_st.s2;
    for (int c = 0; c < D / 8; ++c) {
      const float8 qv =
          r < R ? load8_f(q, q_off, DT, qrow + 8 * c * q_st.s3, q_st.s3) * scale : (float8)(0.0f);
      vstore8(qv, 0, qs + r * D + 8 * c);
      vstore8((float8)(0.0f), 0, acc + r * D + 8 * c);
    }
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }

  float kf[BKD * MAX_D], vf[BKD * MAX_D];
  for (int i = 0; i < BKD * D / 8; ++i) vstore8((float8)(0.0f), i, kf);
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const long kbase = b * k_st.s0 + hk * k_st.s1, vbase = b * v_st.s0 + hk * v_st.s1;
  const bool rows_contiguous = k_st.s3 == 1 && v_st.s3 == 1;
  for (int j0 = begin; j0 < stop_all; j0 += BKD) {
    // The block's keys as f32 (converted once, wide loads); keys past stop_all stay unread.
    const int nb = min(BKD, stop_all - j0);
    for (int jj = 0; jj < nb; ++jj) {
      const long krow = kbase + (long)(j0 + jj) * k_st.s2, vrow = vbase + (long)(j0 + jj) * v_st.s2;
      if (rows_contiguous) {
        PREFETCH_ROWS(k + k_off, krow, v + v_off, vrow);
        for (int c = 0; c < D / 8; ++c) {
          vstore8(load8_c(k, k_off, DT, krow + 8 * c), 0, kf + jj * D + 8 * c);
          vstore8(load8_c(v, v_off, DT, vrow + 8 * c), 0, vf + jj * D + 8 * c);
        }
      } else {
        for (int c = 0; c < D / 8; ++c) {
          vstore8(load8_f(k, k_off, DT, krow + 8 * c * k_st.s3, k_st.s3), 0, kf + jj * D + 8 * c);
          vstore8(load8_f(v, v_off, DT, vrow + 8 * c * v_st.s3, v_st.s3), 0, vf + jj * D + 8 * c);
        }
      }
    }
    // Scores and the online softmax, a row at a time; p goes to sc (0 for keys a row does not see).
    for (int r = 0; r < R4; ++r) {
      const int lim = min(nb, ends[r] - j0);  // keys of this block row r sees
      if (lim <= 0) {
        vstore16((float16)(0.0f), 0, sc + r * BKD);
        corr[r] = 1.0f;
        continue;
      }
      float st[BKD];
      for (int jj = 0; jj < lim; jj += 4) {  // four keys per q load; one joint reduction
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
      const float16 s16 = select(vload16(0, st), (float16)(-INFINITY), lane >= lim);
      const float m_new = fmax(m[r], hmax16(s16));
      corr[r] = exp(m[r] - m_new);
      const float16 p = exp(s16 - m_new);
      l[r] = l[r] * corr[r] + hsum16(p);
      m[r] = m_new;
      vstore16(p, 0, sc + r * BKD);
    }
    // acc = corr * acc + P·V, four rows at a time: each V vector load feeds four FMAs.
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

  write_rows(R, Sq, G, b, Hq, hk, D, splits, split, acc, m, l, o, o_off, o_st, work);
}

// out[row, d] = sum_s acc_s[d] e^(m_s - M) / sum_s l_s e^(m_s - M), M = max_s m_s; splits
// that saw no key (m = -inf) add nothing; a row no split saw is zeros. Work-item (d, row).
kernel void attention_combine(int Hq, int Sq, int D, int splits, TENSOR_OUT(o), global const float* work) {
  const int d = get_global_id(0);
  const long row = get_global_id(1);
  if (d >= D) return;
  const long bh = row / Sq;
  const int s = row - bh * Sq, b = bh / Hq, h = bh - (long)b * Hq;
  global const float* w = work + row * splits * (long)(D + 2);
  float mx = -INFINITY;
  for (int t = 0; t < splits; ++t) mx = fmax(mx, w[t * (D + 2)]);
  float num = 0.0f, den = 0.0f;
  if (mx != -INFINITY) {
    for (int t = 0; t < splits; ++t) {
      const float ms = w[t * (D + 2)];
      if (ms == -INFINITY) continue;
      const float f = exp(ms - mx);
      den += w[t * (D + 2) + 1] * f;
      num += w[t * (D + 2) + 2 + d] * f;
    }
  }
  store_f(o, o_off, DT, b * o_st.s0 + h * o_st.s1 + s * o_st.s2 + d * o_st.s3, den > 0.0f ? num / den : 0.0f);
}

#ifdef HEAD_D
// CPU devices (tuning row decode_grouped): the split-KV plan and partials of attention_decode,
// a work-item per (batch, KV head, KV split) holding the GQA group's rows, the head dim fixed
// at compile time, and the split walked in spans of SPAN keys by decode_span
// (decode_common.cl): K then V each read once as one stream, converted in registers, every
// K/V vector feeding four rows. Needs unit stride along D (the launcher checks).
kernel void attention_decode_grouped(int B, int Hq, int Hkv, int Sq, int Skv, int causal, float scale, int splits,
                                     int chunk, TENSOR_IN(q), TENSOR_IN(k), TENSOR_IN(v), TENSOR_OUT(o),
                                     global const int* lens, long lens_off, long lens_st, int has_lens,
                                     global float* work) {
  int b, hk, split, kv_len, begin, stop;
  if (!decode_item(B, Hkv, Skv, splits, chunk, lens, lens_off, lens_st, has_lens, &b, &hk, &split, &kv_len, &begin,
                   &stop))
    return;
  const int G = Hq / Hkv, R = G * Sq;

  float qs[MAX_R * HEAD_D], acc[MAX_R * HEAD_D], m[MAX_R], l[MAX_R], ones[SPAN];
  int ends[MAX_R], first[MAX_R], lim[MAX_R];
  const int R4 = (R + 3) & ~3;
  int stop_all = begin;
  for (int r = 0; r < R4; ++r) {
    const int g = r / Sq, s = r - g * Sq;
    ends[r] = r >= R ? 0 : causal ? clamp(s + kv_len - Sq + 1, 0, stop) : stop;
    stop_all = max(stop_all, ends[r]);
    first[r] = 0;
    const long qrow = b * q_st.s0 + (hk * G + g) * q_st.s1 + s * q_st.s2;
    for (int c = 0; c < HEAD_D / 8; ++c) {
      const float8 qv =
          r < R ? load8_f(q, q_off, DT, qrow + 8 * c * q_st.s3, q_st.s3) * scale : (float8)(0.0f);
      vstore8(qv, 0, qs + r * HEAD_D + 8 * c);
      vstore8((float8)(0.0f), 0, acc + r * HEAD_D + 8 * c);
    }
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
  for (int jj = 0; jj < SPAN; ++jj) ones[jj] = 1.0f;

  const long kbase = b * k_st.s0 + hk * k_st.s1, vbase = b * v_st.s0 + hk * v_st.s1;
  long krow[SPAN], vrow[SPAN];
  for (int s0 = begin; s0 < stop_all; s0 += SPAN) {
    const int nb = min(SPAN, stop_all - s0);
    for (int jj = 0; jj < SPAN; ++jj) {
      const long j = s0 + min(jj, nb - 1);
      krow[jj] = kbase + j * k_st.s2;
      vrow[jj] = vbase + j * v_st.s2;
    }
    for (int r = 0; r < R4; ++r) lim[r] = clamp(ends[r] - s0, 0, nb);
    // The next span's K rows are prefetched into L2 during this span's V pass: SPAN rows on,
    // or after the last span the first span of work-item gid + 1 (on PoCL the same thread
    // runs it next: its chunk of work-groups is consecutive). knext 0: none.
    long knext = SPAN * k_st.s2;
    if (s0 + SPAN >= stop_all) {
      const int g1 = get_global_id(0) + 1;
      knext = 0;
      if (g1 < B * Hkv * splits) {
        const int bk1 = g1 / splits, sp1 = g1 - bk1 * splits, b1 = bk1 / Hkv, hk1 = bk1 - b1 * Hkv;
        const int len1 = has_lens ? clamp(lens[lens_off / 4 + b1 * lens_st], 0, Skv) : Skv;
        knext = b1 * k_st.s0 + hk1 * k_st.s1 + min(len1, sp1 * chunk) * k_st.s2 - (kbase + s0 * k_st.s2);
      }
    }
    decode_span(qs, acc, m, l, first, lim, R4, nb, k, k_off, v, v_off, krow, vrow, ones, ones, knext);
  }

  write_rows(R, Sq, G, b, Hq, hk, HEAD_D, splits, split, acc, m, l, o, o_off, o_st, work);
}

// attention_combine for the grouped kernel: a work-item per row, the split weights computed
// once and the head dim walked in VW-wide vectors (attention_combine spends a work-item per
// element and recomputes every weight in each).
kernel void attention_combine_rows(int Hq, int Sq, int splits, TENSOR_OUT(o), global const float* work) {
  const long row = get_global_id(0);
  const long bh = row / Sq;
  const int s = row - bh * Sq, b = bh / Hq, h = bh - (long)b * Hq;
  global const float* w = work + row * splits * (long)(HEAD_D + 2);
  float mx = -INFINITY;
  for (int t = 0; t < splits; ++t) mx = fmax(mx, w[t * (HEAD_D + 2)]);
  float num[HEAD_D], den = 0.0f;
  for (int c = 0; c < NCH; ++c) VSTOREW((fv)(0.0f), c, num);
  if (mx != -INFINITY) {
    for (int t = 0; t < splits; ++t) {
      global const float* wt = w + t * (HEAD_D + 2);
      if (wt[0] == -INFINITY) continue;
      const float f = exp(wt[0] - mx);
      den += wt[1] * f;
      for (int c = 0; c < NCH; ++c) VSTOREW(FMA(VLOADW(c, wt + 2), (fv)(f), VLOADW(c, num)), c, num);
    }
  }
  const float inv = den > 0.0f ? 1.0f / den : 0.0f;
  const long orow = b * o_st.s0 + h * o_st.s1 + s * o_st.s2;
  for (int d = 0; d < HEAD_D; ++d) store_f(o, o_off, DT, orow + d * o_st.s3, num[d] * inv);
}
#endif
