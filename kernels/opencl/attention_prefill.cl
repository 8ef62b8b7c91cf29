// Prefill attention, FlashAttention-2 structure. A work-group owns WG * RV consecutive query
// rows of one (batch, head); K/V tiles of BK keys are staged once per group in local memory
// as f32, and each work-item computes S = Q·Kᵀ and O = diag(corr)·O + P·V for its RV rows
// against the tile. A work-item's rows are the lanes of one float<RV> vector: every K and V
// element is one broadcast FMA for RV rows, and the online softmax (masks, maxima, exp, sums)
// is lane-wise, with no horizontal reduction. CPU rows: RV = SIMD width, WG = 1; GPU rows:
// RV = 1, WG = 64 (a row per work-item, the tile shared through local memory).
// GQA/MQA map query head h to KV head h / (Hq / Hkv); causal rows see keys j <= i + (kv_len - Sq);
// kv lengths are clamped to [0, Skv]; rows that see no key are zeros; keys at or past a
// row's length are never read.
// Compile-time: DT (dtype of q, k, v, out), RV (1, 4, 8, 16), WG, BK; HEAD_D (optional: fixes
// the head dim, so GPU compilers can keep a row's q and o in registers).
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if RV == 1
typedef float vf;
typedef int vi;
#define VLOAD(i, p) ((p)[i])
#define VSTORE(x, i, p) ((p)[i] = (x))
#else
typedef CAT(float, RV) vf;
typedef CAT(int, RV) vi;
#define VLOAD(i, p) CAT(vload, RV)(i, p)
#define VSTORE(x, i, p) CAT(vstore, RV)(x, i, p)
#endif
#ifdef HEAD_D
#define DIM HEAD_D
#define TILE_D HEAD_D
#else
#define DIM D
#define TILE_D 256
#endif

// Keys [j0, j0 + BK) of one KV head into a local f32 tile; keys at or past `end` become zeros
// (never read: they may hold anything, NaN included).
inline void stage_tile(local float* t, global const uchar* x, long x_off, long4 x_st, long base, int j0,
                       int end, int D, int lid) {
  const int D8 = DIM / 8;
#if WG == 1
  for (int jj = 0; jj < BK; ++jj) {
    const int j = j0 + jj;
    const long row = base + j * x_st.s2;
    if (j >= end)
      for (int c = 0; c < D8; ++c) vstore8((float8)(0.0f), 0, t + jj * DIM + 8 * c);
    else if (x_st.s3 == 1)
      for (int c = 0; c < D8; ++c) vstore8(load8_c(x, x_off, DT, row + 8 * c), 0, t + jj * DIM + 8 * c);
    else
      for (int c = 0; c < D8; ++c)
        vstore8(load8_f(x, x_off, DT, row + 8 * c * x_st.s3, x_st.s3), 0, t + jj * DIM + 8 * c);
  }
#else
  for (int e = lid; e < BK * D8; e += WG) {  // one division per 8 staged elements
    const int jj = e / D8, c = e - jj * D8, j = j0 + jj;
    const float8 val =
        j < end ? load8_f(x, x_off, DT, base + j * x_st.s2 + 8 * c * x_st.s3, x_st.s3) : (float8)(0.0f);
    vstore8(val, 0, t + jj * DIM + 8 * c);
  }
#endif
}

kernel void attention_prefill(int Hq, int Hkv, int Sq, int Skv, int D, int causal, float scale, int qblocks,
                              TENSOR_IN(q), TENSOR_IN(k), TENSOR_IN(v), TENSOR_OUT(o), global const int* lens,
                              long lens_off, long lens_st, int has_lens) {
  local float kt[BK * TILE_D], vt[BK * TILE_D];
  const int lid = get_local_id(0);
  const int qb = qblocks - 1 - (int)get_group_id(0);  // longest causal blocks first
  const int bh = get_group_id(1), b = bh / Hq, h = bh - b * Hq, hk = h / (Hq / Hkv);
  int kv_len = Skv;
  if (has_lens) kv_len = clamp(lens[lens_off / 4 + b * lens_st], 0, Skv);
  const int shift = kv_len - Sq;  // causal: row i sees keys j <= i + shift
  const int g0 = qb * WG * RV, g_last = min(Sq, g0 + WG * RV) - 1;
  const int g_end = causal ? clamp(g_last + shift + 1, 0, kv_len) : kv_len;
  const int q0 = g0 + lid * RV, nrows = clamp(Sq - q0, 0, RV);

  // This work-item's rows: scaled q, transposed so that qs[d] holds dim d of every row.
  float qs[TILE_D * RV], os[TILE_D * RV];
  int ends[RV];
  int min_end = kv_len, max_end = 0;
  for (int i = 0; i < RV; ++i) {
    const int e = i < nrows ? (causal ? clamp(q0 + i + shift + 1, 0, kv_len) : kv_len) : 0;
    ends[i] = e;
    min_end = min(min_end, e);
    max_end = max(max_end, e);
    const long qrow = b * q_st.s0 + h * q_st.s1 + (long)(q0 + i) * q_st.s2;
    for (int c = 0; c < DIM / 8; ++c) {
      float tmp[8];
      vstore8(i < nrows ? load8_f(q, q_off, DT, qrow + 8 * c * q_st.s3, q_st.s3) * scale : (float8)(0.0f), 0,
              tmp);
      for (int e8 = 0; e8 < 8; ++e8) qs[(8 * c + e8) * RV + i] = tmp[e8];
    }
  }
  for (int d = 0; d < DIM; ++d) VSTORE((vf)(0.0f), d, os);
  const vi endv = VLOAD(0, ends);
  vf m = (vf)(-INFINITY), l = (vf)(0.0f);

  const long kbase = b * k_st.s0 + hk * k_st.s1, vbase = b * v_st.s0 + hk * v_st.s1;
  for (int j0 = 0; j0 < g_end; j0 += BK) {
    stage_tile(kt, k, k_off, k_st, kbase, j0, g_end, D, lid);
    stage_tile(vt, v, v_off, v_st, vbase, j0, g_end, D, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (j0 < max_end) {
      vf s[BK];
      for (int jj = 0; jj < BK; ++jj) s[jj] = (vf)(0.0f);
      for (int d = 0; d < DIM; ++d) {
        const vf qd = VLOAD(d, qs);
        for (int jj = 0; jj < BK; ++jj) s[jj] = FMA(qd, (vf)(kt[jj * DIM + d]), s[jj]);
      }
      if (j0 + BK > min_end)  // some lane ends inside this tile
        for (int jj = 0; jj < BK; ++jj) s[jj] = select(s[jj], (vf)(-INFINITY), (vi)(j0 + jj) >= endv);
      vf mt = s[0];
      for (int jj = 1; jj < BK; ++jj) mt = fmax(mt, s[jj]);
      const vf m_new = fmax(m, mt);
      const vf m_use = select(m_new, (vf)(0.0f), m_new == (vf)(-INFINITY));  // lanes with no key yet
      const vf corr = exp(m - m_use);
      l *= corr;
      for (int jj = 0; jj < BK; ++jj) {
        s[jj] = exp(s[jj] - m_use);
        l += s[jj];
      }
      m = m_new;
      for (int d = 0; d < DIM; ++d) {
        vf acc = VLOAD(d, os) * corr;
        for (int jj = 0; jj < BK; ++jj) acc = FMA(s[jj], (vf)(vt[jj * DIM + d]), acc);
        VSTORE(acc, d, os);
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  const vf inv = select((vf)(0.0f), (vf)(1.0f) / l, l > (vf)(0.0f));
  const long orow = b * o_st.s0 + h * o_st.s1 + (long)q0 * o_st.s2;
  for (int d = 0; d < DIM; ++d) {
    float tmp[RV];
    VSTORE(VLOAD(d, os) * inv, 0, tmp);
    for (int i = 0; i < nrows; ++i) store_f(o, o_off, DT, orow + i * o_st.s2 + d * o_st.s3, tmp[i]);
  }
}
