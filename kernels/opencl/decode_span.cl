// The grouped span step of the split-KV decode kernels on CPU devices (attention_decode_grouped,
// paged_attention_grouped), included after decode_common.cl and after the includer defined
// KV_LOADW (and optionally KV_PREFETCH) for its cache format.
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
// The softmax's exponentials are exp_nonpos16 (decode_common.cl): its argument is never positive.
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
// Prefetch into L2 of the span's V rows during the K pass and of the next span's K rows
// (knext elements past this span's rows; 0: none, or not contiguous) during the V
// pass, where the includer defines KV_PREFETCH_L2 and PF_L2 is 1: each pass then finds its
// rows in L2 instead of waiting on DRAM behind a prefetch only PFD keys ahead. (The next
// span may be shorter: its prefetch can touch up to SPAN rows past the end, never read.)
#ifndef PF_L2
#define PF_L2 0
#endif
#if !defined(KV_PREFETCH_L2) || PF_L2 == 0
#undef KV_PREFETCH_L2
#define KV_PREFETCH_L2(base, off, row)
#endif
// P·V register block: the four rows of a row group times VCG head-dim vectors (the largest of
// 4, 2, 1 dividing NCH that keeps 16 accumulators with 16-float vectors, 8 otherwise).
#define VR 4
#define VBLK 16  // keys per P·V block
#define V_ACCS (VW == 16 ? 16 : 8)
#define VCG (NCH % (V_ACCS / VR) == 0 ? V_ACCS / VR : NCH % 2 == 0 ? 2 : 1)

inline void decode_span(private const float* qs, private float* acc, private float* m, private float* l,
                        private const int* first, private const int* lim, int R4, int nb, global const uchar* kb,
                        long koff, global const uchar* vb, long voff, private const long* krow,
                        private const long* vrow, private const float* kscl, private const float* vscl, long knext) {
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
      if (r0 == 0)
        for (int i = 0; i < 4; ++i) KV_PREFETCH_L2(vb, voff, vrow[min(jj + i, nb - 1)]);
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
    float16 mxv = (float16)(-INFINITY);
    for (int b = fr / BKD; b * BKD < lr; ++b) {
      const int16 j = lane + b * BKD;
      mxv = fmax(mxv, select(vload16(b, sr), (float16)(-INFINITY), (j >= lr) | (j < fr)));
    }
    const float mx = hmax16(mxv);
    const float m_new = fmax(m[r], mx), corr = exp(m[r] - m_new);
    float16 sum = (float16)(0.0f);
    for (int b = 0; b < hb; ++b) {
      float16 p;
      if (b * BKD >= fr && (b + 1) * BKD <= lr) {  // the row sees the whole block: no mask
        p = exp_nonpos16(vload16(b, sr) - m_new);
      } else {
        const int16 j = lane + b * BKD;
        p = select(exp_nonpos16(vload16(b, sr) - m_new), (float16)(0.0f), (j >= lr) | (j < fr));
      }
      sum += p;
      vstore16(p, b, sr);
    }
    l[r] = l[r] * corr + hsum16(sum);
    m[r] = m_new;
    if (corr != 1.0f)
      for (int c = 0; c < NCH; ++c) VSTOREW(VLOADW(c, acc + r * HEAD_D) * corr, c, acc + r * HEAD_D);
  }
  // P·V: VR rows x VCG head-dim vectors of accumulators stay in registers while the pass walks
  // the span's V rows in order, VBLK keys at a time: each block's rows are read for every
  // head-dim group before the next block (the later groups from L1; over the whole span they
  // came from L2: B = 1 KV 4096 f16 ~10 % less time per call on PoCL, EPYC).
  for (int r0 = 0; r0 < R4; r0 += 4) {
    const int hi = hi4[r0 / 4];
    for (int rv = r0; rv < r0 + 4; rv += VR) {
      for (int jb = 0; jb < hi; jb += VBLK) {
        const int je = min(hi, jb + VBLK);
        for (int c0 = 0; c0 < NCH; c0 += VCG) {
          fv a[VR][VCG];
#pragma unroll
          for (int i = 0; i < VR; ++i)
#pragma unroll
            for (int c = 0; c < VCG; ++c) a[i][c] = VLOADW(c0 + c, acc + (rv + i) * HEAD_D);
          for (int jj = jb; jj < je; ++jj) {
            if (rv == 0 && c0 == 0 && jj + PFD < nb) KV_PREFETCH(vb, voff, vrow[jj + PFD]);
            if (rv == 0 && c0 == 0 && knext != 0) KV_PREFETCH_L2(kb, koff, krow[jj] + knext);
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
}
#endif
