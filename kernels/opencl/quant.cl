// Quantized weights (porta/quant.h): quantize, dequantize (also the row gather of embedding
// and the transposed blocks the M > 16 gemm path feeds to gemm_tiled.cl), and the GEMV that
// streams packed codes for M <= 16. The device layout is the host canonical one (codes
// row-major [N, row bytes], int4 element 2j in the low nibble of byte j; scales [N, G];
// f16 zeros [N, G]); nothing is repacked at upload.
// Compile-time: QF (0 int8, 1 int4, 2 int4_zp, 3 fp8_e4m3fn); for qgemv also DT_A, MR (rows of
// A held per work-item, >= M), HAS_PERM, QSPLIT (work-items sharing one output column),
// QLOCAL (work-group size).
#ifndef QF
#define QF 0
#endif
#ifndef HAS_PERM
#define HAS_PERM 0
#endif
#ifndef DT_A
#define DT_A DT_F32
#endif

// The weight operand: codes (bytes, row stride in bytes), scales (any float dtype, element
// strides; row stride 0 per tensor), zeros (f16, int4_zp only), K and the elements per scale
// (K itself for per-channel / per-tensor).
#define QWEIGHT                                                                              \
  global const uchar *qc, long qc_off, long qc_rs, global const uchar *qs, long qs_off,      \
      long qs_rs, long qs_cs, int qs_dt, global const uchar *qz, long qz_off, long qz_rs,    \
      long qz_cs, int K, int group

// E4M3FN: bias 7, subnormals m * 2^-9, 0x7f / 0xff NaN.
inline float fp8_to_f(uint u) {
  const uint e = (u >> 3) & 15u, m = u & 7u;
  float v = e == 0 ? (float)m * 0x1p-9f : as_float(((e + 120u) << 23) | (m << 20));
  if ((u & 0x7fu) == 0x7fu) v = as_float(0x7fc00000u);
  return (u & 0x80u) ? -v : v;
}

inline float8 fp8x8_to_f(uchar8 c) {
  const uint8 u = convert_uint8(c);
  const uint8 e = (u >> 3) & 15u, m = u & 7u;
  float8 v = as_float8(((e + 120u) << 23) | (m << 20));
  v = select(v, convert_float8(m) * 0x1p-9f, convert_int8(e == 0));
  v = select(v, as_float8((uint8)(0x7fc00000u)), convert_int8((u & 0x7fu) == 0x7fu));
  return as_float8(as_uint8(v) | ((u & 0x80u) << 24));
}

// Code value of element j of a row (before the zero point / scale): int8 as is, int4 code - 8,
// int4_zp the raw nibble, fp8 decoded.
inline float q_code1(global const uchar* row, long j) {
#if QF == 0
  return (float)((global const char*)row)[j];
#elif QF == 3
  return fp8_to_f(row[j]);
#else
  const uchar b = row[j >> 1];
  const float q = (float)((j & 1) ? b >> 4 : b & 15);
  return QF == 1 ? q - 8.0f : q;
#endif
}

// Elements j .. j + 7 (j even).
inline float8 q_code8(global const uchar* row, long j) {
#if QF == 0
  return convert_float8(vload8(0, (global const char*)row + j));
#elif QF == 3
  return fp8x8_to_f(vload8(0, row + j));
#else
  const uchar4 b = vload4(0, row + (j >> 1));
  const float4 lo = convert_float4(b & (uchar4)15), hi = convert_float4(b >> (uchar4)4);
  const float8 q = (float8)(lo.s0, hi.s0, lo.s1, hi.s1, lo.s2, hi.s2, lo.s3, hi.s3);
  return QF == 1 ? q - 8.0f : q;
#endif
}

inline float q_scale(global const uchar* qs, long qs_off, long qs_rs, long qs_cs, int qs_dt, long n, long g) {
  return load_f(qs, qs_off, qs_dt, n * qs_rs + g * qs_cs);
}

inline float q_zero(global const uchar* qz, long qz_off, long qz_rs, long qz_cs, long n, long g) {
#if QF == 2
  return load_f(qz, qz_off, DT_F16, n * qz_rs + g * qz_cs);
#else
  return 0.0f;
#endif
}

inline int clamp_perm(global const uchar* perm, long perm_off, long perm_st, long j, int K) {
  const int p = ((global const int*)(perm + perm_off))[j * perm_st];
  return clamp(p, 0, K - 1);
}

// ---------------------------------------------------------------------------
// dequantize: out[r, col(j)] = weight row(r), element j, for r < R and j < K. Rows are
// row0 + r, or ids[r] when use_ids (an id outside [0, V) writes a row of zeros); col(j) is
// perm[j] when HAS_PERM (the transposed blocks of the gemm path) else j. One work-item per
// 8 elements of a row.
kernel void qdequant(int R, QWEIGHT, global uchar* O, long o_off, long o_rs, long o_cs, int o_dt,
                     int use_ids, global const uchar* ids, long ids_off, long ids_st, long row0, long V,
                     global const uchar* perm, long perm_off, long perm_st) {
  const long j0 = (long)get_global_id(0) * 8;
  const long r = get_global_id(1);
  if (j0 >= K || r >= R) return;
  const int nj = (int)min((long)8, (long)K - j0);
  long n = row0 + r;
  bool zero_row = false;
  if (use_ids) {
    n = ((global const int*)(ids + ids_off))[r * ids_st];
    zero_row = n < 0 || n >= V;
  }
  float vals[8];
  if (zero_row) {
    for (int i = 0; i < 8; ++i) vals[i] = 0.0f;
  } else {
    global const uchar* row = qc + qc_off + n * qc_rs;
    const long g = j0 / group;
    const float s = q_scale(qs, qs_off, qs_rs, qs_cs, qs_dt, n, g);
    const float z = q_zero(qz, qz_off, qz_rs, qz_cs, n, g);
    if (nj == 8) {
      const float8 v = (q_code8(row, j0) - z) * s;
      vstore8(v, 0, vals);
    } else {
      for (int i = 0; i < nj; ++i) vals[i] = (q_code1(row, j0 + i) - z) * s;
    }
  }
  for (int i = 0; i < nj; ++i) {
#if HAS_PERM
    const long col = clamp_perm(perm, perm_off, perm_st, j0 + i, K);
#else
    const long col = j0 + i;
#endif
    store_f(O, o_off, o_dt, r * o_rs + col * o_cs, vals[i]);
  }
}

// ---------------------------------------------------------------------------
// GEMV for small M (MR rows of A per work-item; dimension 1 of the grid walks row blocks):
// C[m, n] = act(alpha * sum_j A[m, perm(j)] * w(n, j) + beta * C + bias). QSPLIT work-items
// share column n, each taking units of `unit` elements that never straddle a group. Inside a
// unit, QV elements per step are decoded into one vector (int4: the QV/2 low nibbles, then
// the QV/2 high ones, i.e. even elements then odd; the activations are split the same way)
// and multiplied into a vector partial sum per row; at the unit's end that vector is scaled
// by the group's scale once and added to the row's accumulator, reduced across lanes once at
// the end. f32 accumulation.
#ifndef MR
#define MR 1
#endif
#ifndef QSPLIT
#define QSPLIT 1
#endif
#ifndef QLOCAL
#define QLOCAL 8
#endif
#ifndef QV
#define QV 8
#endif
#define QCAT_(a, b) a##b
#define QCAT(a, b) QCAT_(a, b)
#define VF QCAT(float, QV)
#if QV == 16
#define HV 8
#else
#define HV 4
#endif
#define HF QCAT(float, HV)

inline float q_activate(int act, float v) {
  switch (act) {
    case 1: return v > 0.0f ? v : 0.0f;
    case 2: return gelu_tanh_f(v);
    case 3: return silu_f(v);
    default: return v;
  }
}

inline float q_hsum(VF v) {
  float t[QV];
  QCAT(vstore, QV)(v, 0, t);
  float s = 0.0f;
  for (int i = 0; i < QV; ++i) s += t[i];
  return s;
}

// QV codes from element j (a multiple of QV) as values before the zero point and scale; int4
// in (even elements, odd elements) order.
inline VF q_codes(global const uchar* row, long j) {
#if QF == 0
  return QCAT(convert_float, QV)(QCAT(vload, QV)(0, (global const char*)row + j));
#elif QF == 3
#if QV == 16
  return (float16)(fp8x8_to_f(vload8(0, row + j)), fp8x8_to_f(vload8(0, row + j + 8)));
#else
  return fp8x8_to_f(vload8(0, row + j));
#endif
#else
  const QCAT(uchar, HV) b = QCAT(vload, HV)(0, row + (j >> 1));
  const VF q = (VF)(QCAT(convert_float, HV)(b & (uchar)15), QCAT(convert_float, HV)(b >> (uchar)4));
  return QF == 1 ? q - 8.0f : q;
#endif
}

// QV activations of row offset `arow` for code columns j .. j + QV, in q_codes' order.
inline VF q_acts(global const uchar* A, long a_off, long arow, long a_cs, long j, global const uchar* perm,
                 long perm_off, long perm_st, int K) {
  float t[QV];
  VF a;
#if HAS_PERM
  for (int i = 0; i < QV; ++i) t[i] = load_f(A, a_off, DT_A, arow + clamp_perm(perm, perm_off, perm_st, j + i, K) * a_cs);
  a = QCAT(vload, QV)(0, t);
#else
  if (a_cs == 1) {
#if QV == 16
    a = (float16)(load8_c(A, a_off, DT_A, arow + j), load8_c(A, a_off, DT_A, arow + j + 8));
#else
    a = load8_c(A, a_off, DT_A, arow + j);
#endif
  } else {
    for (int i = 0; i < QV; ++i) t[i] = load_f(A, a_off, DT_A, arow + (j + i) * a_cs);
    a = QCAT(vload, QV)(0, t);
  }
#endif
#if QF == 1 || QF == 2
  return (VF)(a.even, a.odd);
#else
  return a;
#endif
}

kernel void qgemv(int M, int N, int unit, float alpha, float beta, int act, global const uchar* A, long a_off,
                  long a_rs, long a_cs, QWEIGHT, global const uchar* perm, long perm_off, long perm_st,
                  global uchar* C, long c_off, long c_rs, long c_cs, int c_dt, global const uchar* bias,
                  long bias_off, long bias_st, int bias_dt) {
  const int col = get_global_id(0) / QSPLIT;
  const int part = get_local_id(0) % QSPLIT;
  const long n = min(col, N - 1);  // items past N still join the reduction's barriers
  const int m0 = get_global_id(1) * MR;
  global const uchar* row = qc + qc_off + n * qc_rs;
  long arow[MR];
  VF acc[MR];
  for (int m = 0; m < MR; ++m) {
    arow[m] = min(m0 + m, M - 1) * a_rs;
    acc[m] = (VF)(0.0f);
  }
  float tail[MR];
  for (int m = 0; m < MR; ++m) tail[m] = 0.0f;
  const long units = ((long)K + unit - 1) / unit;
  for (long u = part; u < units; u += QSPLIT) {
    const long j0 = u * unit, j1 = min((long)K, j0 + unit), g = j0 / group;
    const float z = q_zero(qz, qz_off, qz_rs, qz_cs, n, g);
    VF sum[MR];
    for (int m = 0; m < MR; ++m) sum[m] = (VF)(0.0f);
    long j = j0;
    for (; j + QV <= j1; j += QV) {
      const VF w = q_codes(row, j) - z;
      for (int m = 0; m < MR; ++m)
        sum[m] = FMA(q_acts(A, a_off, arow[m], a_cs, j, perm, perm_off, perm_st, K), w, sum[m]);
    }
    const float s = q_scale(qs, qs_off, qs_rs, qs_cs, qs_dt, n, g);
    for (; j < j1; ++j) {  // per-channel rows whose K is not a multiple of QV (the last unit only)
      const float w = (q_code1(row, j) - z) * s;
#if HAS_PERM
      const long pcol = clamp_perm(perm, perm_off, perm_st, j, K) * a_cs;
#else
      const long pcol = j * a_cs;
#endif
      for (int m = 0; m < MR; ++m) tail[m] = FMA(load_f(A, a_off, DT_A, arow[m] + pcol), w, tail[m]);
    }
    for (int m = 0; m < MR; ++m) acc[m] = FMA((VF)(s), sum[m], acc[m]);
  }
  float res[MR];
  for (int m = 0; m < MR; ++m) res[m] = q_hsum(acc[m]) + tail[m];
#if QSPLIT > 1
  local float red[QLOCAL * MR];
  const int l = get_local_id(0);
  for (int m = 0; m < MR; ++m) red[l * MR + m] = res[m];
  barrier(CLK_LOCAL_MEM_FENCE);
  if (part != 0) return;
  for (int m = 0; m < MR; ++m) {
    float t = 0.0f;
    for (int i = 0; i < QSPLIT; ++i) t += red[(l + i) * MR + m];
    res[m] = t;
  }
#endif
  if (col >= N) return;
  for (int m = 0; m < MR && m0 + m < M; ++m) {
    const long ci = (m0 + m) * c_rs + n * c_cs;
    float v = alpha * res[m];
    if (beta != 0.0f) v += beta * load_f(C, c_off, c_dt, ci);
    if (bias_dt >= 0) v += load_f(bias, bias_off, bias_dt, n * bias_st);
    store_f(C, c_off, c_dt, ci, q_activate(act, v));
  }
}

// ---------------------------------------------------------------------------
// quantize (rules of porta/quant.h; the scale is rounded to its dtype before the codes are
// computed with it). W: [N, K] any float dtype and strides.

inline float round_to_dt(int dt, float v) {
  if (dt == DT_F16) {
    ushort h;  // no half variables without cl_khr_fp16: its bits
    vstore_half_rte(v, 0, (private half*)&h);
    return vload_half(0, (private half*)&h);
  }
  if (dt == DT_BF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

// f (already rounded) as an int in [lo, hi]; NaN gives lo.
inline int to_code(float f, int lo, int hi) {
  if (!(f >= (float)lo)) return lo;
  if (!(f <= (float)hi)) return hi;
  return (int)f;
}

// Round to nearest even on the E4M3FN grid, saturating to +-448; NaN -> 0x7f.
inline uint f_to_fp8(float v) {
  if (isnan(v)) return 0x7fu;
  const uint sign = (as_uint(v) >> 24) & 0x80u;
  const float a = fabs(v);
  if (a >= 448.0f) return sign | 0x7eu;
  const int e = (int)((as_uint(a) >> 23) & 255u) - 127;  // a's binade (very small a: the subnormal grid)
  uint code;
  if (e < -6) {
    code = (uint)rint(a * 0x1p9f);  // multiples of 2^-9; 8 is 2^-6, the first normal
  } else {
    const uint q = (uint)rint(ldexp(a, 3 - e));  // 8 .. 16; 16 carries into the next binade
    code = (uint)((e + 7) << 3) + q - 8u;
  }
  return sign | min(code, 0x7eu);
}

// The format's scale (unrounded) and the minimum (int4_zp) of w[n, j0 .. j1).
inline float scale_rule(global const uchar* W, long w_off, long w_rs, long w_cs, int w_dt, long n, long j0,
                        long j1, float* lo_out) {
  float amax = 0.0f, smax = 0.0f, mn = 0.0f, mx = 0.0f;
  for (long j = j0; j < j1; ++j) {
    const float v = load_f(W, w_off, w_dt, n * w_rs + j * w_cs);
    if (fabs(v) > amax) {
      amax = fabs(v);
      smax = v;
    }
    mn = fmin(mn, v);
    mx = fmax(mx, v);
  }
  *lo_out = mn;
#if QF == 0
  return amax / 127.0f;
#elif QF == 1
  return smax / -8.0f;
#elif QF == 2
  return (mx - mn) / 15.0f;
#else
  return amax / 448.0f;
#endif
}

// Per tensor (fp8): each row's scale into rowmax[n].
kernel void qquant_rowmax(int N, int K, global const uchar* W, long w_off, long w_rs, long w_cs, int w_dt,
                          global float* rowmax) {
  const long n = get_global_id(0);
  if (n >= N) return;
  float lo;
  rowmax[n] = scale_rule(W, w_off, w_rs, w_cs, w_dt, n, 0, K, &lo);
}

// One work-group of 64: the largest row scale, rounded, as the tensor's scale.
kernel void qquant_tensor_scale(int N, global const float* rowmax, global uchar* qs, long qs_off, int qs_dt) {
  local float red[64];
  const int l = get_local_id(0);
  float m = 0.0f;
  for (int n = l; n < N; n += 64) m = fmax(m, rowmax[n]);
  red[l] = m;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = 32; s > 0; s >>= 1) {
    if (l < s) red[l] = fmax(red[l], red[l + s]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (l == 0) store_f(qs, qs_off, qs_dt, 0, round_to_dt(qs_dt, red[0]));
}

// One work-item per (group, row): scale (and zero), then the group's codes.
kernel void qquantize(int N, int G, int per_tensor, global const uchar* W, long w_off, long w_rs, long w_cs,
                      int w_dt, global uchar* oc, long oc_off, long oc_rs, global uchar* os, long os_off,
                      long os_rs, long os_cs, int os_dt, global uchar* oz, long oz_off, long oz_rs,
                      long oz_cs, int K, int group) {
  const long g = get_global_id(0), n = get_global_id(1);
  if (g >= G || n >= N) return;
  const long j0 = g * group, j1 = min((long)K, j0 + group);
  float d, lo = 0.0f;
  if (per_tensor) {
    d = load_f(os, os_off, os_dt, 0);
  } else {
    d = round_to_dt(os_dt, scale_rule(W, w_off, w_rs, w_cs, w_dt, n, j0, j1, &lo));
    store_f(os, os_off, os_dt, n * os_rs + g * os_cs, d);
  }
  global uchar* row = oc + oc_off + n * oc_rs;
#if QF == 2
  const float z = d != 0.0f ? clamp(rint(-lo / d), 0.0f, 15.0f) : 0.0f;
  store_f(oz, oz_off, DT_F16, n * oz_rs + g * oz_cs, z);
#endif
#if QF == 0 || QF == 3
  for (long j = j0; j < j1; ++j) {
    const float v = load_f(W, w_off, w_dt, n * w_rs + j * w_cs);
#if QF == 0
    const int q = d != 0.0f ? to_code(rint(v / d), -127, 127) : 0;
    row[j] = (uchar)(char)q;
#else
    row[j] = d != 0.0f ? (uchar)f_to_fp8(v / d) : (uchar)0;
#endif
  }
#else
  // Two elements per byte; j0 is even (groups are multiples of 32; per-channel starts at 0).
  for (long j = j0; j < j1; j += 2) {
    uint byte = 0;
    for (int h = 0; h < 2 && j + h < j1; ++h) {
      const float v = load_f(W, w_off, w_dt, n * w_rs + (j + h) * w_cs);
#if QF == 1
      const int q = d != 0.0f ? to_code(trunc(v / d + 8.5f), 0, 15) : 8;
#else
      const int q = d != 0.0f ? to_code(rint(v / d) + z, 0, 15) : to_code(z, 0, 15);
#endif
      byte |= (uint)q << (4 * h);
    }
    row[j >> 1] = (uchar)byte;
  }
#endif
}
