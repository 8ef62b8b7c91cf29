// GEMV / small-M GEMM for decode: B K-contiguous (weights stored [N, K], the layout engines
// use), a few rows of A. Each work-item computes RM rows of one output column as dot products
// along K with VK-wide vector loads of both operands, then the shared epilogue.
// Compile-time: DT_A, DT_B, RM, VK (2/4/8/16). The epilogue comes from gemm_tiled.cl's
// helpers, repeated here in small form to keep programs independent.
#ifndef RM
#define RM 4
#endif
#ifndef VK
#define VK 8
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VT CAT(float, VK)
#define VSTORE CAT(vstore, VK)
#define UVT CAT(uint, VK)
#define CONVERT_UVT CAT(convert_uint, VK)
#define AS_VT CAT(as_float, VK)

#if DT_A == DT_F32
typedef float a_t;
#define LOAD_A(p, i) ((p)[i])
#define VLOAD_A(p, i) CAT(vload, VK)(0, (p) + (i))
#elif DT_A == DT_F16
typedef ushort a_t;
#define LOAD_A(p, i) vload_half(0, (global const half*)((p) + (i)))
#define VLOAD_A(p, i) CAT(vload_half, VK)(0, (global const half*)((p) + (i)))
#else
typedef ushort a_t;
#define LOAD_A(p, i) bf16_to_f32((p)[i])
#define VLOAD_A(p, i) AS_VT(CONVERT_UVT(CAT(vload, VK)(0, (p) + (i))) << 16)
#endif

#if DT_B == DT_F32
typedef float b_t;
#define LOAD_B(p, i) ((p)[i])
#define VLOAD_B(p, i) CAT(vload, VK)(0, (p) + (i))
#elif DT_B == DT_F16
typedef ushort b_t;
#define LOAD_B(p, i) vload_half(0, (global const half*)((p) + (i)))
#define VLOAD_B(p, i) CAT(vload_half, VK)(0, (global const half*)((p) + (i)))
#else
typedef ushort b_t;
#define LOAD_B(p, i) bf16_to_f32((p)[i])
#define VLOAD_B(p, i) AS_VT(CONVERT_UVT(CAT(vload, VK)(0, (p) + (i))) << 16)
#endif

inline float activate(int act, float v) {
  switch (act) {
    case 1: return v > 0.0f ? v : 0.0f;
    case 2: return gelu_tanh_f(v);
    case 3: return silu_f(v);
    default: return v;
  }
}

inline float hsum(VT v) {
  float t[VK];
  VSTORE(v, 0, t);
  float s = 0.0f;
  for (int i = 0; i < VK; ++i) s += t[i];
  return s;
}

#if RM == 1
#define FOR_R(X) X(0)
#elif RM == 2
#define FOR_R(X) X(0) X(1)
#elif RM == 4
#define FOR_R(X) X(0) X(1) X(2) X(3)
#else
#error "RM must be 1, 2 or 4"
#endif

// Named accumulators and row pointers (macro-unrolled) stay in registers under PoCL.
kernel void gemm_small_m(int M, int N, int K, int batch, int a_unit, float alpha, float beta, int act,
                         global const uchar* A, long a_off, long4 a_st, global const uchar* B, long b_off,
                         long4 b_st, global uchar* C, long c_off, long4 c_st, int c_dt,
                         global const uchar* bias, long bias_off, long bias_st, int bias_dt) {
  const int n = get_global_id(0);
  const int m0 = get_global_id(1) * RM;
  const int z = get_global_id(2);
  if (n >= N || m0 >= M || z >= batch) return;
  global const a_t* Ap = (global const a_t*)(A + a_off) + z * a_st.s1;
  global const b_t* bn = (global const b_t*)(B + b_off) + z * b_st.s1 + n * b_st.s3;
  const long sam = a_st.s2, sak = a_st.s3;
#define DECL(i)                                            \
  global const a_t* ar##i = Ap + min(m0 + i, M - 1) * sam; \
  VT acc##i = (VT)(0.0f);
  FOR_R(DECL)
  int k = 0;
  if (a_unit) {
    for (; k + VK <= K; k += VK) {
      const VT b = VLOAD_B(bn, k);
#define STEP(i) acc##i = FMA(VLOAD_A(ar##i, k), b, acc##i);
      FOR_R(STEP)
    }
  }
  float s[RM];
#define REDUCE(i) s[i] = hsum(acc##i);
  FOR_R(REDUCE)
  for (; k < K; ++k) {
    const float b = LOAD_B(bn, k);
#define TAIL(i) s[i] = FMA(LOAD_A(ar##i, k * sak), b, s[i]);
    FOR_R(TAIL)
  }
  for (int i = 0; i < RM && m0 + i < M; ++i) {
    const long m = m0 + i;
    const long ci = z * c_st.s1 + m * c_st.s2 + n * c_st.s3;
    float v = alpha * s[i];
    if (beta != 0.0f) v += beta * load_f(C, c_off, c_dt, ci);
    if (bias_dt >= 0) v += load_f(bias, bias_off, bias_dt, n * bias_st);
    store_f(C, c_off, c_dt, ci, activate(act, v));
  }
}
