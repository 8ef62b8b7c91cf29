// Shared by every program (prepended by the host). OpenCL C 1.2. Half types are storage
// only: f16 goes through vload_half/vstore_half (no cl_khr_fp16 needed), bf16 through bit
// shifts; arithmetic is f32. Tensors arrive as (byte buffer, byte offset, element strides).
// dtype codes follow porta::DType: 0 f32, 1 f16, 2 bf16, 3 i8, 4 i32.
#define DT_F32 0
#define DT_F16 1
#define DT_BF16 2
#define DT_I8 3
#define DT_I32 4

#define TENSOR_IN(n) global const uchar *n, long n##_off, long4 n##_st
#define TENSOR_OUT(n) global uchar *n, long n##_off, long4 n##_st

// Fused multiply-add where it is fast (FP_FAST_FMAF, or the host says so with USE_FMA: PoCL
// defines no FP_FAST_FMAF and lowers mad to a separate multiply and add), else mad.
#if defined(FP_FAST_FMAF) || USE_FMA
#define FMA(a, b, c) fma(a, b, c)
#else
#define FMA(a, b, c) mad(a, b, c)
#endif

inline float bf16_to_f32(ushort h) { return as_float(((uint)h) << 16); }

// Round to nearest even; NaN stays a (quiet) NaN.
inline ushort f32_to_bf16(float f) {
  uint u = as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (ushort)(u >> 16);
}

// Element i of a tensor of dtype dt (run-time dtype: a uniform branch, used by the
// bandwidth-bound ops so each op family is one program rather than one per dtype).
inline float load_f(global const uchar* base, long off, int dt, long i) {
  global const uchar* p = base + off;
  switch (dt) {
    case DT_F32: return ((global const float*)p)[i];
    case DT_F16: return vload_half((size_t)i, (global const half*)p);
    case DT_BF16: return bf16_to_f32(((global const ushort*)p)[i]);
    case DT_I8: return (float)((global const char*)p)[i];
    default: return (float)((global const int*)p)[i];
  }
}

// Stores v rounded once to dt (nearest even; integers saturate, NaN becomes 0).
inline void store_f(global uchar* base, long off, int dt, long i, float v) {
  global uchar* p = base + off;
  switch (dt) {
    case DT_F32: ((global float*)p)[i] = v; break;
    case DT_F16: vstore_half_rte(v, (size_t)i, (global half*)p); break;
    case DT_BF16: ((global ushort*)p)[i] = f32_to_bf16(v); break;
    case DT_I8: ((global char*)p)[i] = convert_char_sat_rte(v); break;
    default: ((global int*)p)[i] = convert_int_sat_rte(v); break;
  }
}

// Offset of the first element of row r (rows = every index of the first three dims).
inline long row_offset(long r, long4 shape, long4 st) {
  const long i2 = r % shape.s2;
  r /= shape.s2;
  const long i1 = r % shape.s1;
  const long i0 = r / shape.s1;
  return i0 * st.s0 + i1 * st.s1 + i2 * st.s2;
}

inline float silu_f(float x) { return x / (1.0f + exp(-x)); }
inline float gelu_tanh_f(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanh(k * (x + 0.044715f * x * x * x)));
}
inline float gelu_erf_f(float x) { return 0.5f * x * (1.0f + erf(x * 0.7071067811865476f)); }

// Work-group reductions of the row kernels (norm, softmax; argmax has its own with
// indices). ROW_WG comes from the device tuning table (-DROW_WG); 1 on CPU devices,
// where a work-item walks the whole row.
#ifndef ROW_WG
#define ROW_WG 64
#endif

inline float group_max(float v, local float* red) {
#if ROW_WG == 1
  return v;
#else
  const int l = get_local_id(0);
  red[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = ROW_WG / 2; s > 0; s >>= 1) {
    if (l < s) red[l] = fmax(red[l], red[l + s]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = red[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
#endif
}

inline float group_sum(float v, local float* red) {
#if ROW_WG == 1
  return v;
#else
  const int l = get_local_id(0);
  red[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = ROW_WG / 2; s > 0; s >>= 1) {
    if (l < s) red[l] += red[l + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = red[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
#endif
}
