// Rotary embedding on [B, H, S, D]: one thread per rotated pair (and one per copied tail
// element past rotary_dim). The angle is pos * theta^(-2i/R) in double, reduced mod 2pi
// before the f32 sin/cos, so large positions keep full accuracy. Pairs are read before
// they are written, so out == x works in place.
#include "device_common.cuh"
#include "launch.h"

namespace porta::cuda {
namespace {

__global__ void rope_kernel(RopeDesc d, int64_t rows, int64_t per_row) {
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
    const double inv_freq = exp2(-2.0 * double(j) / double(d.rotary_dim) * d.log2_theta);
    double ang = double(pos) * inv_freq;
    ang -= 6.283185307179586 * floor(ang / 6.283185307179586);
    float sn, cs;
    sincosf(float(ang), &sn, &cs);
    const int64_t i0 = d.neox ? j : 2 * j, i1 = d.neox ? j + half : 2 * j + 1;
    const float x0 = load_f(d.x.ptr, d.x.dtype, xo + i0 * sx), x1 = load_f(d.x.ptr, d.x.dtype, xo + i1 * sx);
    store_f(d.out.ptr, d.out.dtype, oo + i0 * so, x0 * cs - x1 * sn);
    store_f(d.out.ptr, d.out.dtype, oo + i1 * so, x1 * cs + x0 * sn);
  }
}

}  // namespace

int launch_rope(const RopeDesc& d, void* stream) {
  const int64_t rows = d.x.shape[0] * d.x.shape[1] * d.x.shape[2];
  const int64_t half = d.rotary_dim / 2;
  const int64_t per_row = half + (d.x.shape[3] - 2 * half);
  if (rows == 0 || per_row == 0) return 0;
  constexpr int kThreads = 256;
  rope_kernel<<<grid_for(rows * per_row, kThreads), kThreads, 0, static_cast<pcStream_t>(stream)>>>(d, rows,
                                                                                                    per_row);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
