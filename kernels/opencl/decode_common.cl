// Pieces shared by the split-KV decode kernels (attention_decode.cl, paged_attention.cl),
// pulled in with #include "decode_common.cl" (ProgramCache expands it from the embedded
// sources): the VW-wide float vector type, the tile limits, and horizontal reductions.
// Compile-time: VW (4, 8, 16).
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
typedef CAT(float, VW) fv;
#define VLOADW CAT(vload, VW)
#define VSTOREW CAT(vstore, VW)
#define MAX_R 16
#define MAX_D 256
#define BKD 16

#if VW >= 8
// Elements [i, i + VW) of a contiguous float tensor of dtype dt as f32, one vector load.
inline fv loadw_c(global const uchar* base, long off, int dt, long i) {
#if VW == 16
#if defined(__AVX512F__) && defined(__F16C__)
  if (dt == DT_F16)
    return __builtin_ia32_vcvtph2ps512_mask(as_short16(vload16(0, (global const ushort*)(base + off) + i)),
                                            (float16)(0.0f), (ushort)0xffff, 4);
#endif
  return (float16)(load8_c(base, off, dt, i), load8_c(base, off, dt, i + 8));
#else
  return load8_c(base, off, dt, i);
#endif
}
#endif

// (sum a0, sum a1, sum a2, sum a3): the four reductions share their shuffles.
inline float4 hsum4(fv a0, fv a1, fv a2, fv a3) {
#if VW == 16
  const float8 t0 = a0.lo + a0.hi, t1 = a1.lo + a1.hi, t2 = a2.lo + a2.hi, t3 = a3.lo + a3.hi;
  const float8 u01 = (float8)(t0.lo + t0.hi, t1.lo + t1.hi), u23 = (float8)(t2.lo + t2.hi, t3.lo + t3.hi);
#elif VW == 8
  const float8 u01 = (float8)(a0.lo + a0.hi, a1.lo + a1.hi), u23 = (float8)(a2.lo + a2.hi, a3.lo + a3.hi);
#else
  const float8 u01 = (float8)(a0, a1), u23 = (float8)(a2, a3);
#endif
  const float8 w = (float8)(u01.even + u01.odd, u23.even + u23.odd);
  return w.even + w.odd;
}

// The 16 sums of a 4 x 4 block of 16-float accumulators (a<r><k>: row r, key k) as one vector,
// z[4 r + k], by a shuffle tree (each step adds the two halves of a pair of vectors).
#if VW == 16 && defined(__clang__)
#define HSUM_TREE 1
#define SHUF __builtin_shufflevector
inline float16 hsum_pair_halves(float16 x, float16 y) {  // [x.lo + x.hi | y.lo + y.hi]
  return SHUF(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
         SHUF(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
// [x: sums of 4-lane quarters pairs | y: ...]: v[4 k + p] for the four keys of a row.
inline float16 hsum_quarters(float16 x, float16 y) {
  return SHUF(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
         SHUF(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
}
inline float16 hsum_pairs_of_two(float16 x, float16 y) {
  return SHUF(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
         SHUF(x, y, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
}
inline float16 hsum16x4(float16 a00, float16 a01, float16 a02, float16 a03, float16 a10, float16 a11,
                        float16 a12, float16 a13, float16 a20, float16 a21, float16 a22, float16 a23,
                        float16 a30, float16 a31, float16 a32, float16 a33) {
  const float16 v0 = hsum_quarters(hsum_pair_halves(a00, a01), hsum_pair_halves(a02, a03));
  const float16 v1 = hsum_quarters(hsum_pair_halves(a10, a11), hsum_pair_halves(a12, a13));
  const float16 v2 = hsum_quarters(hsum_pair_halves(a20, a21), hsum_pair_halves(a22, a23));
  const float16 v3 = hsum_quarters(hsum_pair_halves(a30, a31), hsum_pair_halves(a32, a33));
  const float16 w01 = hsum_pairs_of_two(v0, v1), w23 = hsum_pairs_of_two(v2, v3);  // w[8 r + 2 k + p]
  return SHUF(w01, w23, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         SHUF(w01, w23, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}
#undef SHUF
#else
#define HSUM_TREE 0
#endif

inline float hmax16(float16 x) {
  const float8 a = fmax(x.lo, x.hi);
  const float4 b4 = fmax(a.lo, a.hi);
  const float2 c = fmax(b4.lo, b4.hi);
  return fmax(c.x, c.y);
}

inline float hsum16(float16 x) {
  const float8 a = x.lo + x.hi;
  const float4 b4 = a.lo + a.hi;
  const float2 c = b4.lo + b4.hi;
  return c.x + c.y;
}

// ---------------------------------------------------------------------------------------------
// The grouped span step (CPU devices: attention_decode_grouped; paged_attention with HEAD_D).
// A work-item's R4 rows (a multiple of 4, at most MAX_R) meet one span of nb <= SPAN keys
// whose K and V rows start at elements krow[jj] / vrow[jj] (entries past nb repeat the last
// key: nothing past the span is read). Row r sees keys [first[r], lim[r]) of the span.
// The span is walked twice, K then V, so each pass reads one stream (a CPU's prefetchers
// follow one stream through 4 KiB pages far better than two interleaved ones):
//  1. scores, four rows x four keys at a time: 16 VW-wide accumulators along the head dim,
//     K converted in registers straight from the cache (KV_LOADW, no f32 staging), each K
//     vector serving four rows; one joint horizontal reduction per four scores;
//  2. the softmax of each row over the span (its maximum first, so each row rescales its
//     accumulators once per span), p in place of the scores;
//  3. acc = corr * acc + P·V, 16-key blocks, four rows at a time, each V vector serving four rows.
// The includer defines KV_LOADW(base, off, row, e, scl): elements [e, e + VW) of the cache
// row starting at element `row`, as fv, times scl where the format has per-row scales.
#if defined(HEAD_D) && defined(KV_LOADW)
#define NCH (HEAD_D / VW)
#if HEAD_D % VW != 0
#error HEAD_D must be a multiple of VW
#endif
#if SPAN % BKD != 0
#error SPAN must be a multiple of 16
#endif
// Software prefetch of the rows PFD keys ahead (0: none), where the includer defines
// KV_PREFETCH(base, off, row) (CPU devices).
#ifndef PFD
#define PFD 0
#endif
#if !defined(KV_PREFETCH) || PFD == 0
#undef KV_PREFETCH
#define KV_PREFETCH(base, off, row)
#endif
// P·V register block: the four rows of a row group times VCG head-dim vectors (the largest of
// 4, 2, 1 dividing NCH that keeps 16 accumulators with 16-float vectors, 8 otherwise).
#define VR 4
#define V_ACCS (VW == 16 ? 16 : 8)
#define VCG (NCH % (V_ACCS / VR) == 0 ? V_ACCS / VR : NCH % 2 == 0 ? 2 : 1)

inline void decode_span(private const float* qs, private float* acc, private float* m, private float* l,
                        private const int* first, private const int* lim, int R4, int nb, global const uchar* kb,
                        long koff, global const uchar* vb, long voff, private const long* krow,
                        private const long* vrow, private const float* kscl, private const float* vscl) {
  float st[MAX_R * SPAN];
  int hi4[MAX_R / 4];
  for (int r0 = 0; r0 < R4; r0 += 4) {
    const int lo = min(min(first[r0], first[r0 + 1]), min(first[r0 + 2], first[r0 + 3])) & ~3;
    const int hi = max(max(lim[r0], lim[r0 + 1]), max(lim[r0 + 2], lim[r0 + 3]));
    hi4[r0 / 4] = hi;
    for (int jj = lo; jj < hi; jj += 4) {
      const int j1 = min(jj + 1, nb - 1), j2 = min(jj + 2, nb - 1), j3 = min(jj + 3, nb - 1);
      if (r0 == 0 && jj + PFD < nb)
        for (int i = 0; i < 4; ++i) KV_PREFETCH(kb, koff, krow[min(jj + PFD + i, nb - 1)]);
      fv a00 = (fv)(0.0f), a01 = (fv)(0.0f), a02 = (fv)(0.0f), a03 = (fv)(0.0f);
      fv a10 = (fv)(0.0f), a11 = (fv)(0.0f), a12 = (fv)(0.0f), a13 = (fv)(0.0f);
      fv a20 = (fv)(0.0f), a21 = (fv)(0.0f), a22 = (fv)(0.0f), a23 = (fv)(0.0f);
      fv a30 = (fv)(0.0f), a31 = (fv)(0.0f), a32 = (fv)(0.0f), a33 = (fv)(0.0f);
      for (int c = 0; c < NCH; ++c) {
        const fv k0 = KV_LOADW(kb, koff, krow[jj], c * VW, kscl[jj]);
        const fv k1 = KV_LOADW(kb, koff, krow[j1], c * VW, kscl[j1]);
        const fv k2 = KV_LOADW(kb, koff, krow[j2], c * VW, kscl[j2]);
        const fv k3 = KV_LOADW(kb, koff, krow[j3], c * VW, kscl[j3]);
        fv qv = VLOADW(c, qs + r0 * HEAD_D);
        a00 = FMA(qv, k0, a00), a01 = FMA(qv, k1, a01), a02 = FMA(qv, k2, a02), a03 = FMA(qv, k3, a03);
        qv = VLOADW(c, qs + (r0 + 1) * HEAD_D);
        a10 = FMA(qv, k0, a10), a11 = FMA(qv, k1, a11), a12 = FMA(qv, k2, a12), a13 = FMA(qv, k3, a13);
        qv = VLOADW(c, qs + (r0 + 2) * HEAD_D);
        a20 = FMA(qv, k0, a20), a21 = FMA(qv, k1, a21), a22 = FMA(qv, k2, a22), a23 = FMA(qv, k3, a23);
        qv = VLOADW(c, qs + (r0 + 3) * HEAD_D);
        a30 = FMA(qv, k0, a30), a31 = FMA(qv, k1, a31), a32 = FMA(qv, k2, a32), a33 = FMA(qv, k3, a33);
      }
#if HSUM_TREE
      const float16 z = hsum16x4(a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33);
      vstore4(z.s0123, 0, st + r0 * SPAN + jj);
      vstore4(z.s4567, 0, st + (r0 + 1) * SPAN + jj);
      vstore4(z.s89ab, 0, st + (r0 + 2) * SPAN + jj);
      vstore4(z.scdef, 0, st + (r0 + 3) * SPAN + jj);
#else
      vstore4(hsum4(a00, a01, a02, a03), 0, st + r0 * SPAN + jj);
      vstore4(hsum4(a10, a11, a12, a13), 0, st + (r0 + 1) * SPAN + jj);
      vstore4(hsum4(a20, a21, a22, a23), 0, st + (r0 + 2) * SPAN + jj);
      vstore4(hsum4(a30, a31, a32, a33), 0, st + (r0 + 3) * SPAN + jj);
#endif
    }
  }
  // Softmax over the span; p = 0 outside [first, lim) for every 16-key block up to the group's end.
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int r = 0; r < R4; ++r) {
    const int fr = first[r], lr = lim[r], hb = (hi4[r / 4] + BKD - 1) / BKD;
    float* sr = st + r * SPAN;
    if (lr <= fr) {  // no key of this span: p = 0, acc and (m, l) unchanged
      for (int b = 0; b < hb; ++b) vstore16((float16)(0.0f), b, sr);
      continue;
    }
    float mx = -INFINITY;
    for (int b = fr / BKD; b * BKD < lr; ++b) {
      const int16 j = lane + b * BKD;
      mx = fmax(mx, hmax16(select(vload16(b, sr), (float16)(-INFINITY), (j >= lr) | (j < fr))));
    }
    const float m_new = fmax(m[r], mx), corr = exp(m[r] - m_new);
    float16 sum = (float16)(0.0f);
    for (int b = 0; b < hb; ++b) {
      const int16 j = lane + b * BKD;
      const float16 p = select(exp(vload16(b, sr) - m_new), (float16)(0.0f), (j >= lr) | (j < fr));
      sum += p;
      vstore16(p, b, sr);
    }
    l[r] = l[r] * corr + hsum16(sum);
    m[r] = m_new;
    if (corr != 1.0f)
      for (int c = 0; c < NCH; ++c) VSTOREW(VLOADW(c, acc + r * HEAD_D) * corr, c, acc + r * HEAD_D);
  }
  // P·V: VR rows x VCG head-dim vectors of accumulators stay in registers while the pass walks
  // the span's V rows in order, each row read whole (one stream through memory; a second row
  // group re-reads the span from L2).
  for (int r0 = 0; r0 < R4; r0 += 4) {
    const int hi = hi4[r0 / 4];
    for (int rv = r0; rv < r0 + 4; rv += VR) {
      for (int c0 = 0; c0 < NCH; c0 += VCG) {
        fv a[VR][VCG];
#pragma unroll
        for (int i = 0; i < VR; ++i)
#pragma unroll
          for (int c = 0; c < VCG; ++c) a[i][c] = VLOADW(c0 + c, acc + (rv + i) * HEAD_D);
        for (int jj = 0; jj < hi; ++jj) {
          if (rv == 0 && c0 == 0 && jj + PFD < nb) KV_PREFETCH(vb, voff, vrow[jj + PFD]);
          fv pv[VR];
#pragma unroll
          for (int i = 0; i < VR; ++i) pv[i] = (fv)(st[(rv + i) * SPAN + jj]);
#pragma unroll
          for (int c = 0; c < VCG; ++c) {
            const fv vv = KV_LOADW(vb, voff, vrow[jj], (c0 + c) * VW, vscl[jj]);
#pragma unroll
            for (int i = 0; i < VR; ++i) a[i][c] = FMA(pv[i], vv, a[i][c]);
          }
        }
#pragma unroll
        for (int i = 0; i < VR; ++i)
#pragma unroll
          for (int c = 0; c < VCG; ++c) VSTOREW(a[i][c], c0 + c, acc + (rv + i) * HEAD_D);
      }
    }
  }
}
#endif
