// Rotary embedding on [B, H, S, D]. The angle of pair j is pos * theta^(-2j/R) (/ f.v[j] when
// frequency divisors are given, rope_freq.h) in double,
// reduced mod 2pi before the f32 sin/cos (rope_angle), so large positions keep full
// accuracy. Pairs are read before they are written, so out == x works in place. Two kernels:
// - rope_vec (rows_plan.h: unit-stride, 16-byte aligned rows): a block takes one position
//   (b, s) and several heads; the (cos, sin) of each pair is computed once per block into
//   shared memory and reused by every head; a thread rotates the pairs of one 16-byte
//   vector (GPT-J: vec/2 adjacent pairs) or of two (NeoX: elements j.. and j+half..).
// - rope_kernel (any strides): one thread per rotated pair, angle computed per thread.
#include "launch.h"
#include "rope_freq.h"
#include "vector_access.cuh"

namespace porta::cuda {
namespace {

// sin and cos of pair j's angle at position pos (both kernels: identical results).
__device__ __forceinline__ void rope_sincos(const RopeDesc& d, const RopeFreqDiv& f, int32_t pos, int64_t j,
                                            float* sn, float* cs) {
  double inv_freq = exp2(-2.0 * double(j) / double(d.rotary_dim) * d.log2_theta);
  if (f.n > 0) inv_freq /= double(f.v[j]);
  double ang = double(pos) * inv_freq;
  ang -= 6.283185307179586 * floor(ang / 6.283185307179586);
  sincosf(float(ang), sn, cs);
}

__global__ void rope_kernel(RopeDesc d, RopeFreqDiv f, int64_t rows, int64_t per_row) {
  const int64_t H = d.x.shape[1], S = d.x.shape[2], D = d.x.shape[3];
  const int64_t half = d.rotary_dim / 2;
  const int64_t n = rows * per_row;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = t / per_row, j = t % per_row;
    const int64_t s = row % S, h = row / S % H, b = row / (S * H);
    const int64_t xo = b * d.x.strides[0] + h * d.x.strides[1] + s * d.x.strides[2];
    const int64_t oo = b * d.out.strides[0] + h * d.out.strides[1] + s * d.out.strides[2];
    const int64_t sx = d.x.strides[3], so = d.out.strides[3];
    if (j >= half) {  // tail past rotary_dim: copied
      const int64_t i = 2 * half + (j - half);
      if (i < D) store_f(d.out.ptr, d.out.dtype, oo + i * so, load_f(d.x.ptr, d.x.dtype, xo + i * sx));
      continue;
    }
    const int64_t pb = d.positions.shape[2] == 1 ? 0 : b;
    const int32_t pos = reinterpret_cast<const int32_t*>(
        d.positions.ptr)[pb * d.positions.strides[2] + s * d.positions.strides[3]];
    float sn, cs;
    rope_sincos(d, f, pos, j, &sn, &cs);
    const int64_t i0 = d.neox ? j : 2 * j, i1 = d.neox ? j + half : 2 * j + 1;
    const float x0 = load_f(d.x.ptr, d.x.dtype, xo + i0 * sx), x1 = load_f(d.x.ptr, d.x.dtype, xo + i1 * sx);
    store_f(d.out.ptr, d.out.dtype, oo + i0 * so, x0 * cs - x1 * sn);
    store_f(d.out.ptr, d.out.dtype, oo + i1 * so, x1 * cs + x0 * sn);
  }
}

}  // namespace

int launch_rope(const RopeDesc& d, void* stream) { return launch_rope_scaled(d, RopeFreqDiv{}, stream); }

int launch_rope_scaled(const RopeDesc& d, const RopeFreqDiv& f, void* stream) {
  const int64_t rows = d.x.shape[0] * d.x.shape[1] * d.x.shape[2];
  const int64_t half = d.rotary_dim / 2;
  const int64_t per_row = half + (d.x.shape[3] - 2 * half);
  if (rows == 0 || per_row == 0) return 0;
  constexpr int kThreads = 256;
  rope_kernel<<<grid_for(rows * per_row, kThreads), kThreads, 0, static_cast<pcStream_t>(stream)>>>(d, f, rows,
                                                                                                       per_row);
  return static_cast<int>(pcGetLastError());
}

namespace {

// ---------------------------------------------------------------- vector path ----

constexpr int kRopeThreads = 256;
constexpr int kRopeMaxPairsDevice = 1024;  // rows_plan.h kRopeMaxPairs

template <int DT, bool kNeox>
__global__ void __launch_bounds__(kRopeThreads) rope_vec(RopeDesc d, RopeFreqDiv f, RopeLaunch p) {
  constexpr int V = VecElem<DT>::kVec, kBytes = VecElem<DT>::kBytes;
  constexpr int P = kNeox ? V : V / 2;  // pairs per thread
  __shared__ float cos_s[kRopeMaxPairsDevice], sin_s[kRopeMaxPairsDevice];
  const int64_t H = d.x.shape[1], S = d.x.shape[2];
  const int64_t half = d.rotary_dim / 2, positions = d.x.shape[0] * S;
  const int row_threads = p.rot_threads + p.tail_threads;
  const int items = p.heads_per_block * row_threads;
  const int64_t h0 = int64_t(blockIdx.y) * p.heads_per_block;
  for (int64_t bs = blockIdx.x; bs < positions; bs += gridDim.x) {
    const int64_t b = bs / S, s = bs % S;
    const int64_t pb = d.positions.shape[2] == 1 ? 0 : b;
    const int32_t pos = reinterpret_cast<const int32_t*>(
        d.positions.ptr)[pb * d.positions.strides[2] + s * d.positions.strides[3]];
    for (int64_t j = threadIdx.x; j < half; j += blockDim.x) rope_sincos(d, f, pos, j, &sin_s[j], &cos_s[j]);
    pc_syncthreads();
    for (int it = threadIdx.x; it < items; it += blockDim.x) {
      const int64_t h = h0 + it / row_threads;
      const int t = it % row_threads;
      if (h >= H) continue;
      const char* x = d.x.ptr + (b * d.x.strides[0] + h * d.x.strides[1] + s * d.x.strides[2]) * kBytes;
      char* out = d.out.ptr + (b * d.out.strides[0] + h * d.out.strides[1] + s * d.out.strides[2]) * kBytes;
      if (t >= p.rot_threads) {  // tail past rotary_dim: copied through f32 (exact for f32/f16/bf16)
        const int64_t i = 2 * half + int64_t(t - p.rot_threads) * V;
        float v[V];
        load_vec16<DT>(x, i, v);
        store_vec16<DT>(out, i, v);
        continue;
      }
      const int64_t j0 = int64_t(t) * P;  // first pair of this thread
      if constexpr (kNeox) {
        // x0 = x[j0 .. j0+V), x1 = x[half+j0 .. half+j0+V): pairs (j0+e, half+j0+e).
        float a[V], c[V];
        load_vec16<DT>(x, j0, a);
        load_vec16<DT>(x, half + j0, c);
        float o0[V], o1[V];
#pragma unroll
        for (int e = 0; e < V; ++e) {
          const float cs = cos_s[j0 + e], sn = sin_s[j0 + e];
          o0[e] = a[e] * cs - c[e] * sn;
          o1[e] = c[e] * cs + a[e] * sn;
        }
        store_vec16<DT>(out, j0, o0);
        store_vec16<DT>(out, half + j0, o1);
      } else {
        // One vector x[2*j0 .. 2*j0+V) holds pairs (2(j0+e), 2(j0+e)+1), e < P.
        float a[V], o[V];
        load_vec16<DT>(x, 2 * j0, a);
#pragma unroll
        for (int e = 0; e < P; ++e) {
          const float cs = cos_s[j0 + e], sn = sin_s[j0 + e];
          o[2 * e] = a[2 * e] * cs - a[2 * e + 1] * sn;
          o[2 * e + 1] = a[2 * e + 1] * cs + a[2 * e] * sn;
        }
        store_vec16<DT>(out, 2 * j0, o);
      }
    }
    pc_syncthreads();  // the next position overwrites the (cos, sin) table
  }
}

template <int DT>
int launch_rope_dt(const RopeDesc& d, const RopeFreqDiv& f, const RopeLaunch& p, pcStream_t s) {
  const dim3 grid(p.grid_x, p.grid_y), block(p.threads);
  if (d.neox)
    rope_vec<DT, true><<<grid, block, 0, s>>>(d, f, p);
  else
    rope_vec<DT, false><<<grid, block, 0, s>>>(d, f, p);
  return static_cast<int>(pcGetLastError());
}

}  // namespace

int launch_rope_vec(const RopeDesc& d, const RopeLaunch& p, void* stream) {
  return launch_rope_vec_scaled(d, p, RopeFreqDiv{}, stream);
}

int launch_rope_vec_scaled(const RopeDesc& d, const RopeLaunch& p, const RopeFreqDiv& f, void* stream) {
  if (d.x.shape[0] * d.x.shape[1] * d.x.shape[2] == 0 || d.x.shape[3] == 0) return 0;
  if (d.rotary_dim / 2 > kRopeMaxPairsDevice || p.threads > kRopeThreads)
    return static_cast<int>(pcErrorNotSupported);
  auto s = static_cast<pcStream_t>(stream);
  switch (d.x.dtype) {
    case kF32: return launch_rope_dt<kF32>(d, f, p, s);
    case kF16: return launch_rope_dt<kF16>(d, f, p, s);
    case kBF16: return launch_rope_dt<kBF16>(d, f, p, s);
    default: return static_cast<int>(pcErrorNotSupported);
  }
}

}  // namespace porta::cuda
