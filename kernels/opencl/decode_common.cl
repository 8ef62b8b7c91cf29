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
