// Pieces shared by the split-KV decode kernels (attention_decode.cl, paged_attention.cl),
// pulled in with #include "decode_common.cl" (ProgramCache expands it from the embedded
// sources): the VW-wide float vector type, the tile limits, and horizontal reductions. The
// CPU devices' span step (decode_span) is in decode_span.cl.
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

// e^x for x <= 0 (the softmax's s - max): Cody-Waite reduction by ln 2 and the Cephes expf
// polynomial (~1 ulp), 2^n folded into the exponent bits; x below -87.3 (and -inf) gives 0, NaN
// stays NaN. About a third of the instructions of the library exp, which also handles
// overflow and denormal results that cannot occur here.
inline float16 exp_nonpos16(float16 x) {
  // n = round(x / ln 2) by the 1.5 * 2^23 shifter (exact for |x / ln 2| < 2^22; x is clamped first).
  const float16 t = fma(max(x, (float16)(-88.0f)), (float16)(1.44269504088896341f), (float16)(12582912.0f));
  const float16 n = t - 12582912.0f;
  float16 r = fma(n, (float16)(-0.693359375f), x);
  r = fma(n, (float16)(2.12194440e-4f), r);
  float16 p = fma((float16)(1.9875691500e-4f), r, (float16)(1.3981999507e-3f));
  p = fma(p, r, (float16)(8.3334519073e-3f));
  p = fma(p, r, (float16)(4.1665795894e-2f));
  p = fma(p, r, (float16)(1.6666665459e-1f));
  p = fma(p, r, (float16)(5.0000001201e-1f));
  p = fma(p, r * r, r) + 1.0f;
  const float16 e = as_float16(as_int16(p) + ((as_int16(t) - 0x4B400000) << 23));
  return select(select(e, (float16)(0.0f), x < -87.0f), x, isnan(x));
}

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

