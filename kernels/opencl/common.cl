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

// f16 bits to f32 with integer vector ops. PoCL's vload_half converts one element at a time
// in software (no F16C), ~20 instructions each; this is a few vector instructions per 8.
// Exact for every half: normals rebias the exponent by a multiply by 2^112, subnormals
// (exponent 0) convert their mantissa directly (independent of denormal flushing), Inf/NaN
// keep an all-ones exponent.
__attribute__((always_inline)) inline float8 half8_bits_to_float8(ushort8 h) {
  const uint8 u = convert_uint8(h);
  const uint8 em = (u & 0x7fffu) << 13;
  float8 f = as_float8(em) * 0x1p112f;
  f = select(f, convert_float8(u & 0x3ffu) * 0x1p-24f, (u & 0x7c00u) == 0);
  f = select(f, as_float8(em | 0x7f800000u), (u & 0x7c00u) == 0x7c00u);
  return as_float8(as_uint8(f) | ((u & 0x8000u) << 16));
}

// Elements i .. i + 7 of a float tensor of dtype dt (a compile-time constant at every caller) as
// f32, one vector load. Always inlined: PoCL otherwise leaves it a call per eight elements.
__attribute__((always_inline)) inline float8 load8_c(global const uchar* base, long off, int dt, long i) {
  global const uchar* p = base + off;
  if (dt == DT_F32) return vload8(0, (global const float*)p + i);
#if defined(__F16C__)
  // x86 CPU devices (PoCL compiles for the host CPU): one vcvtph2ps per eight, exact
  // (subnormal halves included: DAZ does not apply to the conversion).
  if (dt == DT_F16) return __builtin_ia32_vcvtph2ps256(as_short8(vload8(0, (global const ushort*)p + i)));
#elif CPU_LAYOUT
  if (dt == DT_F16) return half8_bits_to_float8(vload8(0, (global const ushort*)p + i));
#else
  if (dt == DT_F16) return vload_half8(0, (global const half*)(p + 2 * i));
#endif
  return as_float8(convert_uint8(vload8(0, (global const ushort*)p + i)) << 16);
}

// Eight elements i, i + stride, ... of a float tensor as f32: load8_c when contiguous.
inline float8 load8_f(global const uchar* base, long off, int dt, long i, long stride) {
  if (stride == 1) return load8_c(base, off, dt, i);
  float8 r;
  r.s0 = load_f(base, off, dt, i);
  r.s1 = load_f(base, off, dt, i + stride);
  r.s2 = load_f(base, off, dt, i + 2 * stride);
  r.s3 = load_f(base, off, dt, i + 3 * stride);
  r.s4 = load_f(base, off, dt, i + 4 * stride);
  r.s5 = load_f(base, off, dt, i + 5 * stride);
  r.s6 = load_f(base, off, dt, i + 6 * stride);
  r.s7 = load_f(base, off, dt, i + 7 * stride);
  return r;
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

// Compensated (Kahan) accumulation of 8 lanes: a CPU work-item that walks a whole row of
// millions of elements keeps f32 accuracy (plain lane sums lose ~1e-4 relative at 3M).
#define KAHAN_ADD8(sum, comp, v) \
  {                              \
    const float8 y8_ = (v)-comp; \
    const float8 t8_ = sum + y8_; \
    comp = (t8_ - sum) - y8_;    \
    sum = t8_;                   \
  }
