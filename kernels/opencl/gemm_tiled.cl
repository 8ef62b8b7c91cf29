// C[z] = act(alpha * A[z]·B[z] + beta * C[z] + bias), register tiled: each work-item owns a
// TM x (VN*NV) tile of C and keeps it in vector accumulators; along K it loads NV vectors of
// B (vload, B's rows contiguous) and TM scalars of A, broadcast into VN-wide FMAs. This is
// what a CPU device wants (PoCL maps the vectors onto AVX/NEON; no local memory, nothing
// for a work-group barrier to spill) and is a sound scalar-ALU GPU kernel too.
// Compile-time: DT_A, DT_B (input dtypes), TM, VN (2/4/8/16), NV. Run time: C's and the
// bias's dtypes, strides, alpha/beta/activation (epilogue only, uniform branches).
// splits > 1 (split-K, for outputs too small to fill the device): work-item z also picks a K range and raw
// f32 partial sums go to a workspace, which gemm_splitk_reduce sums and passes through the epilogue.
#ifndef TM
#define TM 4
#endif
#ifndef VN
#define VN 4
#endif
#ifndef NV
#define NV 2
#endif
#define TN (VN * NV)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VT CAT(float, VN)
#define VLOADF CAT(vload, VN)
#define VLOADH CAT(vload_half, VN)
#define VSTORE CAT(vstore, VN)
#define UVT CAT(uint, VN)
#define CONVERT_UVT CAT(convert_uint, VN)
#define AS_VT CAT(as_float, VN)

// Storage types and loads for the compile-time input dtypes.
#if DT_A == DT_F32
typedef float a_t;
#define LOAD_A(p, i) ((p)[i])
#elif DT_A == DT_F16
typedef ushort a_t;
#define LOAD_A(p, i) vload_half(0, (global const half*)((p) + (i)))
#else
typedef ushort a_t;
#define LOAD_A(p, i) bf16_to_f32((p)[i])
#endif

#if DT_B == DT_F32
typedef float b_t;
#define LOAD_B(p, i) ((p)[i])
#define VLOAD_B(p, i) VLOADF(0, (p) + (i))
#elif DT_B == DT_F16
typedef ushort b_t;
#define LOAD_B(p, i) vload_half(0, (global const half*)((p) + (i)))
#define VLOAD_B(p, i) VLOADH(0, (global const half*)((p) + (i)))
#else
typedef ushort b_t;
#define LOAD_B(p, i) bf16_to_f32((p)[i])
#define VLOAD_B(p, i) AS_VT(CONVERT_UVT(CAT(vload, VN)(0, (p) + (i))) << 16)
#endif

// act: 0 none, 1 relu, 2 gelu (tanh), 3 silu.
inline float activate(int act, float v) {
  switch (act) {
    case 1: return v > 0.0f ? v : 0.0f;
    case 2: return gelu_tanh_f(v);
    case 3: return silu_f(v);
    default: return v;
  }
}

inline void epilogue(float acc, long m, long n, long z, float alpha, float beta, int act, global uchar* C,
                     long c_off, long4 c_st, int c_dt, global const uchar* bias, long bias_off, long bias_st,
                     int bias_dt) {
  const long ci = z * c_st.s1 + m * c_st.s2 + n * c_st.s3;
  float v = alpha * acc;
  if (beta != 0.0f) v += beta * load_f(C, c_off, c_dt, ci);
  if (bias_dt >= 0) v += load_f(bias, bias_off, bias_dt, n * bias_st);
  store_f(C, c_off, c_dt, ci, activate(act, v));
}

// Explicit per-row accumulators (macro-unrolled): private arrays indexed in loops end up
// on the stack under PoCL, named vectors stay in registers.
#if TM == 1
#define FOR_M(X) X(0)
#elif TM == 2
#define FOR_M(X) X(0) X(1)
#elif TM == 3
#define FOR_M(X) X(0) X(1) X(2)
#elif TM == 4
#define FOR_M(X) X(0) X(1) X(2) X(3)
#elif TM == 5
#define FOR_M(X) X(0) X(1) X(2) X(3) X(4)
#elif TM == 6
#define FOR_M(X) X(0) X(1) X(2) X(3) X(4) X(5)
#elif TM == 7
#define FOR_M(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)
#elif TM == 8
#define FOR_M(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#error "TM must be 1..8"
#endif
#if NV == 1
#define FOR_V(X, i) X(i, 0)
#elif NV == 2
#define FOR_V(X, i) X(i, 0) X(i, 1)
#elif NV == 3
#define FOR_V(X, i) X(i, 0) X(i, 1) X(i, 2)
#elif NV == 4
#define FOR_V(X, i) X(i, 0) X(i, 1) X(i, 2) X(i, 3)
#else
#error "NV must be 1..4"
#endif

// Work-item (0) walks down M fastest so consecutive tiles reuse the same B column panel
// (K x TN) from L2 while A streams: on CPUs this keeps GEMM compute bound without packing.
kernel void gemm_tiled(int M, int N, int K, int batch, int splits, int b_unit, float alpha, float beta,
                       int act, global const uchar* A, long a_off, long4 a_st, global const uchar* B,
                       long b_off, long4 b_st, global uchar* C, long c_off, long4 c_st, int c_dt,
                       global const uchar* bias, long bias_off, long bias_st, int bias_dt,
                       global float* work) {
  const int tm0 = get_global_id(0) * TM;
  const int tn0 = get_global_id(1) * TN;
  const int zz = get_global_id(2);
  if (tn0 >= N || tm0 >= M || zz >= batch * splits) return;
  const int z = zz % batch, split = zz / batch;
  const int k_chunk = (K + splits - 1) / splits;
  const int k_begin = min(K, split * k_chunk), k_end = min(K, k_begin + k_chunk);
  global const a_t* Ap = (global const a_t*)(A + a_off) + z * a_st.s1;
  global const b_t* Bp = (global const b_t*)(B + b_off) + z * b_st.s1;
  const long sam = a_st.s2, sak = a_st.s3, sbk = b_st.s2, sbn = b_st.s3;

  float out[TM][TN];
  if (b_unit && tn0 + TN <= N) {
    // Rows past M read row M-1 (valid memory) and are not stored.
#define DECL_ROW(i) global const a_t* a##i = Ap + min(tm0 + i, M - 1) * sam + (long)k_begin * sak;
#define DECL_ACC(i, j) VT c##i##_##j = (VT)(0.0f);
#define DECL_ACCS(i) FOR_V(DECL_ACC, i)
#define LOADB(i, j) const VT b##j = VLOAD_B(bk, j * VN);
#define FMA1(i, j) c##i##_##j = FMA(av, b##j, c##i##_##j);
#define FMA_ROW(i)                       \
  {                                      \
    const VT av = (VT)(LOAD_A(a##i, 0)); \
    a##i += sak;                         \
    FOR_V(FMA1, i)                       \
  }
#define STORE1(i, j) VSTORE(c##i##_##j, 0, &out[i][j * VN]);
#define STORE_ROW(i) FOR_V(STORE1, i)
    FOR_M(DECL_ROW)
    FOR_M(DECL_ACCS)
    global const b_t* bk = Bp + (long)k_begin * sbk + tn0;
    for (int k = k_begin; k < k_end; ++k, bk += sbk) {
      FOR_V(LOADB, 0)
      FOR_M(FMA_ROW)
    }
    FOR_M(STORE_ROW)
  } else {
    // Edge tiles and B with strided rows: scalar loads, rows/columns past M/N clamped.
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) out[i][j] = 0.0f;
    for (int k = k_begin; k < k_end; ++k) {
      for (int i = 0; i < TM; ++i) {
        const float a = LOAD_A(Ap, min(tm0 + i, M - 1) * sam + k * sak);
        for (int j = 0; j < TN; ++j)
          out[i][j] = FMA(a, LOAD_B(Bp, k * sbk + min(tn0 + j, N - 1) * sbn), out[i][j]);
      }
    }
  }

  for (int i = 0; i < TM; ++i) {
    const int m = tm0 + i;
    if (m >= M) break;
    for (int j = 0; j < TN; ++j) {
      const int n = tn0 + j;
      if (n >= N) break;
      if (splits > 1)
        work[((long)zz * M + m) * N + n] = out[i][j];
      else
        epilogue(out[i][j], m, n, z, alpha, beta, act, C, c_off, c_st, c_dt, bias, bias_off, bias_st,
                 bias_dt);
    }
  }
}

// Sums the `splits` partial products of each C element (in split order: deterministic) and
// applies the epilogue.
kernel void gemm_splitk_reduce(int M, int N, int batch, int splits, float alpha, float beta, int act,
                               global uchar* C, long c_off, long4 c_st, int c_dt, global const uchar* bias,
                               long bias_off, long bias_st, int bias_dt, global const float* work) {
  const long total = (long)batch * M * N;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long n = i % N, m = (i / N) % M, z = i / ((long)M * N);
    float acc = 0.0f;
    for (int s = 0; s < splits; ++s) acc += work[(((long)s * batch + z) * M + m) * N + n];
    epilogue(acc, m, n, z, alpha, beta, act, C, c_off, c_st, c_dt, bias, bias_off, bias_st, bias_dt);
  }
}

// GPU variant: a work-group of WG_M x WG_N work-items computes a (WG_M*LM) x (WG_N*LN) block
// of C. Each K step of depth BK stages the A and B blocks in local memory (any strides and
// dtypes, converted to f32 once per element, zero past the edges); each work-item then
// accumulates LM x LN outputs from registers. Rows/columns are interleaved across work-items
// (m = ty + i*WG_M) so neighbouring work-items read neighbouring local words.
#ifndef WG_M
#define WG_M 16
#endif
#ifndef WG_N
#define WG_N 16
#endif
#ifndef LM
#define LM 4
#endif
#ifndef LN
#define LN 4
#endif
#ifndef BK
#define BK 16
#endif
#define BM (WG_M * LM)
#define BN (WG_N * LN)

kernel __attribute__((reqd_work_group_size(WG_M, WG_N, 1))) void gemm_local(
    int M, int N, int K, int batch, int splits, float alpha, float beta, int act, global const uchar* A,
    long a_off, long4 a_st, global const uchar* B, long b_off, long4 b_st, global uchar* C, long c_off,
    long4 c_st, int c_dt, global const uchar* bias, long bias_off, long bias_st, int bias_dt,
    global float* work) {
  local float As[BK][BM + 1];
  local float Bs[BK][BN + 1];
  const int tx = get_local_id(0), ty = get_local_id(1);  // tx along M, ty along N
  const int m0 = get_group_id(0) * BM, n0 = get_group_id(1) * BN;
  const int zz = get_global_id(2);
  const int z = zz % batch, split = zz / batch;
  const int k_chunk = (K + splits - 1) / splits;
  const int k_begin = min(K, split * k_chunk), k_end = min(K, k_begin + k_chunk);
  global const a_t* Ap = (global const a_t*)(A + a_off) + z * a_st.s1;
  global const b_t* Bp = (global const b_t*)(B + b_off) + z * b_st.s1;
  const int tid = ty * WG_M + tx;
  float acc[LM][LN];
  for (int i = 0; i < LM; ++i)
    for (int j = 0; j < LN; ++j) acc[i][j] = 0.0f;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    for (int e = tid; e < BK * BM; e += WG_M * WG_N) {
      const int kk = e / BM, mm = e % BM;
      const int m = m0 + mm, k = k0 + kk;
      As[kk][mm] = (m < M && k < k_end) ? LOAD_A(Ap, m * a_st.s2 + k * a_st.s3) : 0.0f;
    }
    for (int e = tid; e < BK * BN; e += WG_M * WG_N) {
      const int kk = e / BN, nn = e % BN;
      const int n = n0 + nn, k = k0 + kk;
      Bs[kk][nn] = (n < N && k < k_end) ? LOAD_B(Bp, k * b_st.s2 + n * b_st.s3) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < BK; ++kk) {
      float a[LM], b[LN];
      for (int i = 0; i < LM; ++i) a[i] = As[kk][tx + i * WG_M];
      for (int j = 0; j < LN; ++j) b[j] = Bs[kk][ty + j * WG_N];
      for (int i = 0; i < LM; ++i)
        for (int j = 0; j < LN; ++j) acc[i][j] = FMA(a[i], b[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (z >= batch || split >= splits) return;
  for (int i = 0; i < LM; ++i) {
    const int m = m0 + tx + i * WG_M;
    if (m >= M) continue;
    for (int j = 0; j < LN; ++j) {
      const int n = n0 + ty + j * WG_N;
      if (n >= N) continue;
      if (splits > 1)
        work[((long)zz * M + m) * N + n] = acc[i][j];
      else
        epilogue(acc[i][j], m, n, z, alpha, beta, act, C, c_off, c_st, c_dt, bias, bias_off, bias_st,
                 bias_dt);
    }
  }
}
