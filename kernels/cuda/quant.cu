// Quantized weights (porta/quant.h) in the canonical layout, SIMT (every CUDA dialect; the
// hip module builds the same code): quantize, dequantize (also embedding rows and the
// dequantized blocks of the M > 16 gemm path), and the W4A16 / W8A16 / FP8-weight GEMV for
// M <= 16. FP8 E4M3FN codes are decoded in software (HIP's FNUZ variant is not involved).
//
// GEMV: one 32-lane group per output column, 8 columns per 256-thread block, 4 rows of A
// per pass over the column's codes (more rows re-read them from L2). With `vec`
// (16-byte aligned code rows) a lane loads 16 bytes of codes per step (32 int4 or 16 int8 /
// fp8 elements, all inside one group since groups are multiples of 32), unpacks them in
// registers, subtracts the zero point (int4: 8) directly, sums code x activation for every
// row of A into f32 partials and multiplies them by the group's scale once; the group's
// lanes then add their sums (warp shuffles) and lane 0 applies the epilogue. Activations
// (f32/f16/bf16, any strides, act-order permutation) come from L1/L2: A is at most 16 rows.
#include "device_common.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

constexpr int kRows = 4, kThreads = 256, kCols = kThreads / kGroup;

__device__ __forceinline__ float fp8_to_f32(uint32_t u) {
  const uint32_t e = (u >> 3) & 15u, m = u & 7u;
  float v = e == 0 ? float(m) * 0.001953125f : __uint_as_float(((e + 120u) << 23) | (m << 20));
  if ((u & 0x7fu) == 0x7fu) v = __uint_as_float(0x7fc00000u);
  return (u & 0x80u) ? -v : v;
}

constexpr bool nibbles(int f) { return f == 1 || f == 2; }

/// The value of code `byte` (element parity `odd` picks the nibble) before zero and scale.
template <int F>
__device__ __forceinline__ float q_value(uint32_t byte, bool odd) {
  if (F == 0) return float(int8_t(byte & 0xffu));
  if (F == 3) return fp8_to_f32(byte & 0xffu);
  return float(odd ? (byte >> 4) & 15u : byte & 15u);
}

template <int F>
__device__ __forceinline__ float q_code1(const char* row, int64_t j) {
  const uint32_t byte = uint8_t(row[nibbles(F) ? j >> 1 : j]);
  return q_value<F>(byte, (j & 1) != 0);
}

__device__ __forceinline__ float q_scale(const QWDesc& w, int64_t n, int64_t g) {
  return load_f(w.scales, w.scale_dt, n * w.scale_rs + g * w.scale_cs);
}

/// What is subtracted from a code: int4's 8, int4_zp's zero point, else 0.
template <int F>
__device__ __forceinline__ float q_offset(const QWDesc& w, int64_t n, int64_t g) {
  if (F == 1) return 8.0f;
  if (F == 2) return load_f(w.zeros, kF16, n * w.zero_rs + g * w.zero_cs);
  return 0.0f;
}

/// The group of element j: 32-bit division (the host keeps k below 2^31), inline, where a
/// 64-bit one is a called subroutine whose ABI spills registers in the GEMV.
__device__ __forceinline__ int64_t group_of(const QWDesc& w, int64_t j) {
  return int64_t(uint32_t(j) / uint32_t(w.group));
}

/// perm[j] clamped to [0, k): device-resident values are never trusted.
__device__ __forceinline__ int64_t q_perm(const QWDesc& w, int64_t j) {
  if (!w.perm) return j;
  const int64_t p = reinterpret_cast<const int32_t*>(w.perm)[j * w.perm_st];
  return p < 0 ? 0 : p >= w.k ? w.k - 1 : p;
}

// ------------------------------------------------------------------ dequantize ----

/// Element v of a chunk of 8 codes held in `lo` (elements 0-3 or all 8 nibbles) and `hi`
/// (elements 4-7 of 8-bit codes).
template <int F>
__device__ __forceinline__ float q_chunk_value(uint32_t lo, uint32_t hi, int v) {
  if (nibbles(F)) return q_value<F>(lo >> (8 * (v / 2)), (v & 1) != 0);
  if (v < 4) return q_value<F>(lo >> (8 * v), false);
  return q_value<F>(hi >> (8 * (v - 4)), false);
}

/// A chunk is 8 consecutive elements of one row, inside one group. kVec (decided once per
/// launch on the host: quant_dequant_vec(), src/backends/cuda/quant_plan.h): no column
/// scatter, unit column stride, 16-byte aligned output rows and code rows aligned for one
/// 4-byte (int4) or 8-byte load per chunk; full chunks then take one code load and one or two
/// 16-byte stores, coalesced across the warp. The
/// per-element loop (any layout, the row's last partial chunk) is not unrolled: unrolled, its
/// per-store dtype switch made ptxas spill on sm_90a. The explicit one-block minimum lets
/// ptxas take the 36-40 registers it needs (its default capped int8's vector path at 32 and
/// spilled on sm_80); that still leaves room for 6 blocks of 256 threads per SM.
template <int F, bool kVec>
__global__ void __launch_bounds__(kThreads, 1) quant_dequant_kernel(QuantDequantDesc d) {
  const QWDesc& w = d.w;
  const int64_t chunks = (w.k + 7) / 8;
  for (int64_t r = blockIdx.y; r < d.rows; r += gridDim.y) {
    int64_t n = d.row0 + r;
    bool zero = false;
    if (d.ids) {
      n = reinterpret_cast<const int32_t*>(d.ids)[r * d.ids_st];
      zero = n < 0 || n >= w.n;
    }
    const char* row = w.codes + (zero ? 0 : n) * w.code_rs;
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < chunks;
         c += int64_t(gridDim.x) * blockDim.x) {
      const int64_t j0 = c * 8, g = group_of(w, j0);
      const float s = zero ? 0.0f : q_scale(w, n, g), o = zero ? 0.0f : q_offset<F>(w, n, g);
      if (kVec && j0 + 8 <= w.k) {
        uint2 x = make_uint2(0, 0);
        if (!zero && nibbles(F)) x.x = *reinterpret_cast<const uint32_t*>(row + j0 / 2);
        if (!zero && !nibbles(F)) x = *reinterpret_cast<const uint2*>(row + j0);
        const uint32_t lo = x.x, hi = x.y;
        float v[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) v[i] = zero ? 0.0f : (q_chunk_value<F>(lo, hi, i) - o) * s;
        const int64_t at = r * d.out_rs + j0;  // elements
        if (d.out_dt == kF32) {
          float4* out = reinterpret_cast<float4*>(reinterpret_cast<float*>(d.out) + at);
          out[0] = make_float4(v[0], v[1], v[2], v[3]);
          out[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
          uint32_t h[4];
#pragma unroll
          for (int i = 0; i < 4; ++i)
            h[i] = d.out_dt == kF16
                       ? f32_to_f16_bits(v[2 * i]) | uint32_t(f32_to_f16_bits(v[2 * i + 1])) << 16
                       : f32_to_bf16_bits(v[2 * i]) | uint32_t(f32_to_bf16_bits(v[2 * i + 1])) << 16;
          *reinterpret_cast<uint4*>(reinterpret_cast<uint16_t*>(d.out) + at) =
              make_uint4(h[0], h[1], h[2], h[3]);
        }
        continue;
      }
#pragma unroll 1
      for (int i = 0; i < 8 && j0 + i < w.k; ++i) {
        const int64_t j = j0 + i;
        const float v = zero ? 0.0f : (q_code1<F>(row, j) - o) * s;
        const int64_t col = d.unpermute ? q_perm(w, j) : j;
        store_f(d.out, d.out_dt, r * d.out_rs + col * d.out_cs, v);
      }
    }
  }
}

// ------------------------------------------------------------------------ GEMV ----

template <int F, bool kVec>
__global__ void __launch_bounds__(kThreads) quant_gemv_kernel(QuantGemvDesc d) {
  const QWDesc& w = d.w;
  const int lane = threadIdx.x % kGroup, col = threadIdx.x / kGroup;
  for (int64_t n = int64_t(blockIdx.x) * kCols + col; n < w.n; n += int64_t(gridDim.x) * kCols) {
    const char* row = w.codes + n * w.code_rs;
    // kRows rows of A per pass over the column's codes (M = 1..4: one pass; later passes
    // re-read the codes from L2), so the partial sums stay in registers.
    for (int64_t m0 = 0; m0 < d.M; m0 += kRows) {
      const int rows = int(d.M - m0 < kRows ? d.M - m0 : kRows);
      const int64_t a0 = m0 * d.a_rs;
      float acc[kRows];
#pragma unroll
      for (int m = 0; m < kRows; ++m) acc[m] = 0.0f;
      if (kVec) {
        constexpr int kElems = nibbles(F) ? 32 : 16;  // elements per 16-byte load
        constexpr int kPerWord = kElems / 4;
        for (int64_t k0 = int64_t(lane) * kElems; k0 < w.k; k0 += int64_t(kGroup) * kElems) {
          const uint4 x = *reinterpret_cast<const uint4*>(row + (nibbles(F) ? k0 / 2 : k0));
          const int64_t g = group_of(w, k0);
          const float o = q_offset<F>(w, n, g);
          float part[kRows];
#pragma unroll
          for (int m = 0; m < kRows; ++m) part[m] = 0.0f;
            // Words one at a time (not unrolled): the unrolled 4 x 8 x 4 body with its
            // per-load dtype switch made ptxas spill.
#pragma unroll 1
          for (int wi = 0; wi < 4; ++wi) {
            const uint32_t word = wi == 0 ? x.x : wi == 1 ? x.y : wi == 2 ? x.z : x.w;
#pragma unroll
            for (int i = 0; i < kPerWord; ++i) {
              // int4: element 8 wi + i is nibble i & 1 of byte i / 2; bytes: element 4 wi + i is byte i.
              const uint32_t byte = word >> (8 * (nibbles(F) ? i / 2 : i));
              const float q = q_value<F>(byte, (i & 1) != 0) - o;
              const int64_t ac = a0 + q_perm(w, k0 + wi * kPerWord + i) * d.a_cs;
#pragma unroll
              for (int m = 0; m < kRows; ++m)
                if (m < rows) part[m] = fmaf(q, load_f(d.a, d.a_dt, ac + m * d.a_rs), part[m]);
            }
          }
          const float s = q_scale(w, n, g);
#pragma unroll
          for (int m = 0; m < kRows; ++m) acc[m] = fmaf(s, part[m], acc[m]);
        }
      } else {
        for (int64_t j = lane; j < w.k; j += kGroup) {
          const int64_t g = group_of(w, j);
          const float q = (q_code1<F>(row, j) - q_offset<F>(w, n, g)) * q_scale(w, n, g);
          const int64_t ac = a0 + q_perm(w, j) * d.a_cs;
#pragma unroll
          for (int m = 0; m < kRows; ++m)
            if (m < rows) acc[m] = fmaf(q, load_f(d.a, d.a_dt, ac + m * d.a_rs), acc[m]);
        }
      }
#pragma unroll
      for (int m = 0; m < kRows; ++m) {
        if (m < rows) {
          const float sum = group_sum(acc[m]);
          if (lane == 0) {
            const int64_t ci = (m0 + m) * d.c_rs + n * d.c_cs;
            float v = d.alpha * sum;
            if (d.beta != 0.0f) v += d.beta * load_f(d.c, d.c_dt, ci);
            if (d.bias) v += load_f(d.bias, d.bias_dt, n * d.bias_st);
            store_f(d.c, d.c_dt, ci, activate(d.act, v));
          }
        }
      }
    }
  }
}

// -------------------------------------------------------------------- quantize ----

__device__ __forceinline__ float round_to(int dt, float v) {
  if (dt == kF16) return f16_bits_to_f32(f32_to_f16_bits(v));
  if (dt == kBF16) return bf16_bits_to_f32(f32_to_bf16_bits(v));
  return v;
}

/// f (already rounded) as an int in [lo, hi]; NaN gives lo.
__device__ __forceinline__ int to_code(float f, int lo, int hi) {
  if (!(f >= float(lo))) return lo;
  if (!(f <= float(hi))) return hi;
  return int(f);
}

/// Round to nearest even on the E4M3FN grid, saturating to +-448; NaN -> 0x7f.
__device__ __forceinline__ uint32_t f32_to_fp8(float v) {
  if (v != v) return 0x7fu;
  const uint32_t sign = (__float_as_uint(v) >> 24) & 0x80u;
  const float a = fabsf(v);
  if (a >= 448.0f) return sign | 0x7eu;
  const int e = int((__float_as_uint(a) >> 23) & 255u) - 127;
  uint32_t code;
  if (e < -6) {
    code = uint32_t(rintf(a * 512.0f));  // multiples of 2^-9; 8 is 2^-6, the first normal
  } else {
    const uint32_t q = uint32_t(rintf(ldexpf(a, 3 - e)));  // 8 .. 16; 16 carries into the next binade
    code = uint32_t((e + 7) << 3) + q - 8u;
  }
  return sign | (code < 0x7eu ? code : 0x7eu);
}

/// The format's scale (unrounded) and the minimum (int4_zp) of in[n, j0 .. j1).
template <int F>
__device__ float scale_rule(const QuantizeDesc& d, int64_t n, int64_t j0, int64_t j1, float* lo) {
  float amax = 0.0f, smax = 0.0f, mn = 0.0f, mx = 0.0f;
  for (int64_t j = j0; j < j1; ++j) {
    const float v = load_f(d.in, d.in_dt, n * d.in_rs + j * d.in_cs);
    if (fabsf(v) > amax) amax = fabsf(v), smax = v;
    mn = fminf(mn, v);
    mx = fmaxf(mx, v);
  }
  *lo = mn;
  if (F == 0) return amax / 127.0f;
  if (F == 1) return smax / -8.0f;
  if (F == 2) return (mx - mn) / 15.0f;
  return amax / 448.0f;
}

template <int F>
__global__ void quant_rowmax_kernel(QuantizeDesc d) {
  for (int64_t n = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; n < d.w.n;
       n += int64_t(gridDim.x) * blockDim.x) {
    float lo;
    d.rowmax[n] = scale_rule<F>(d, n, 0, d.w.k, &lo);
  }
}

__global__ void __launch_bounds__(kThreads) quant_tensor_scale_kernel(QuantizeDesc d) {
  __shared__ float red[kThreads];
  float m = 0.0f;
  for (int64_t n = threadIdx.x; n < d.w.n; n += kThreads) m = fmaxf(m, d.rowmax[n]);
  red[threadIdx.x] = m;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (int(threadIdx.x) < s) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) store_f(d.w.scales, d.w.scale_dt, 0, round_to(d.w.scale_dt, red[0]));
}

/// One thread per (group, row): the scale (and zero), then the group's codes.
template <int F>
__global__ void __launch_bounds__(64) quantize_kernel(QuantizeDesc d) {
  const QWDesc& w = d.w;
  const int64_t G = group_of(w, w.k + w.group - 1);
  for (int64_t n = blockIdx.y; n < w.n; n += gridDim.y)
    for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < G;
         g += int64_t(gridDim.x) * blockDim.x) {
      const int64_t j0 = g * w.group, j1 = j0 + w.group < w.k ? j0 + w.group : w.k;
      float s, lo = 0.0f;
      if (d.per_tensor) {
        s = load_f(w.scales, w.scale_dt, 0);
      } else {
        s = round_to(w.scale_dt, scale_rule<F>(d, n, j0, j1, &lo));
        store_f(w.scales, w.scale_dt, n * w.scale_rs + g * w.scale_cs, s);
      }
      uint8_t* row = reinterpret_cast<uint8_t*>(w.codes + n * w.code_rs);
      if (F == 0 || F == 3) {
        for (int64_t j = j0; j < j1; ++j) {
          const float v = load_f(d.in, d.in_dt, n * d.in_rs + j * d.in_cs);
          if (F == 0)
            row[j] = s != 0.0f ? uint8_t(int8_t(to_code(rintf(v / s), -127, 127))) : 0;
          else
            row[j] = s != 0.0f ? uint8_t(f32_to_fp8(v / s)) : 0;
        }
        continue;
      }
      float z = 0.0f;
      if (F == 2) {
        z = s != 0.0f ? fminf(fmaxf(rintf(-lo / s), 0.0f), 15.0f) : 0.0f;
        store_f(w.zeros, kF16, n * w.zero_rs + g * w.zero_cs, z);
      }
      for (int64_t j = j0; j < j1; j += 2) {  // j0 is even: groups are multiples of 32
        uint32_t byte = 0;
        for (int h = 0; h < 2 && j + h < j1; ++h) {
          const float v = load_f(d.in, d.in_dt, n * d.in_rs + (j + h) * d.in_cs);
          const int q = F == 1 ? (s != 0.0f ? to_code(truncf(v / s + 8.5f), 0, 15) : 8)  // llama.cpp Q4_0
                               : (s != 0.0f ? to_code(rintf(v / s) + z, 0, 15) : to_code(z, 0, 15));
          byte |= uint32_t(q) << (4 * h);
        }
        row[j >> 1] = uint8_t(byte);
      }
    }
}

unsigned grid_cap(int64_t n, int64_t per, int64_t cap) {
  const int64_t g = (n + per - 1) / per;
  return static_cast<unsigned>(g < 1 ? 1 : g > cap ? cap : g);
}

}  // namespace

int launch_quant_dequant(const QuantDequantDesc& d, void* stream) {
  if (d.rows == 0 || d.w.k == 0) return 0;
  const dim3 grid(grid_cap((d.w.k + 7) / 8, kThreads, 65535), grid_cap(d.rows, 1, 65535));
  const pcStream_t s = static_cast<pcStream_t>(stream);
#define PORTA_QUANT_DEQUANT(F)                                  \
  if (d.vec)                                                    \
    quant_dequant_kernel<F, true><<<grid, kThreads, 0, s>>>(d); \
  else                                                          \
    quant_dequant_kernel<F, false><<<grid, kThreads, 0, s>>>(d);
  switch (d.w.format) {
    case 0: PORTA_QUANT_DEQUANT(0); break;
    case 1: PORTA_QUANT_DEQUANT(1); break;
    case 2: PORTA_QUANT_DEQUANT(2); break;
    default: PORTA_QUANT_DEQUANT(3); break;
  }
#undef PORTA_QUANT_DEQUANT
  return static_cast<int>(pcGetLastError());
}

int launch_quant_gemv(const QuantGemvDesc& d, void* stream) {
  if (d.M == 0 || d.w.n == 0) return 0;
  const unsigned grid = grid_cap(d.w.n, kCols, 65535 * 8);
  const pcStream_t s = static_cast<pcStream_t>(stream);
#define PORTA_QUANT_GEMV(F)                                  \
  if (d.vec)                                                 \
    quant_gemv_kernel<F, true><<<grid, kThreads, 0, s>>>(d); \
  else                                                       \
    quant_gemv_kernel<F, false><<<grid, kThreads, 0, s>>>(d);
  switch (d.w.format) {
    case 0: PORTA_QUANT_GEMV(0); break;
    case 1: PORTA_QUANT_GEMV(1); break;
    case 2: PORTA_QUANT_GEMV(2); break;
    default: PORTA_QUANT_GEMV(3); break;
  }
#undef PORTA_QUANT_GEMV
  return static_cast<int>(pcGetLastError());
}

int launch_quantize(const QuantizeDesc& d, void* stream) {
  if (d.w.n == 0 || d.w.k == 0) return 0;
  const pcStream_t s = static_cast<pcStream_t>(stream);
  const int64_t G = (d.w.k + d.w.group - 1) / d.w.group;
  const dim3 grid(grid_cap(G, 64, 65535), grid_cap(d.w.n, 1, 65535));
  const unsigned rgrid = grid_cap(d.w.n, kThreads, 65535);
#define PORTA_QUANTIZE(F)                                 \
  if (d.per_tensor) {                                     \
    quant_rowmax_kernel<F><<<rgrid, kThreads, 0, s>>>(d); \
    quant_tensor_scale_kernel<<<1, kThreads, 0, s>>>(d);  \
  }                                                       \
  quantize_kernel<F><<<grid, 64, 0, s>>>(d);
  switch (d.w.format) {
    case 0: PORTA_QUANTIZE(0) break;
    case 1: PORTA_QUANTIZE(1) break;
    case 2: PORTA_QUANTIZE(2) break;
    default: PORTA_QUANTIZE(3) break;
  }
#undef PORTA_QUANTIZE
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
