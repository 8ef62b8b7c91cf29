// Packing for the cpu GEMM. A and B pack the same way once seen as "width" (the panel's
// short side: M for A, N for B) by "depth" (K), so one routine serves both, picking the
// loop order that reads the source along its unit stride and converts whole runs at once.
#include "backends/cpu/gemm_pack.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/convert.h"
#include "backends/cpu/dtype_io.h"

namespace porta::cpu {
namespace {

/// Converted run of the source, reused across calls on this thread.
float* run_buffer(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

/// dst[p*kc*w + k*w + i] = X(i0 + p*w + i, k0 + k) for i0 + p*w + i < i0 + count, else 0,
/// where X(i, k) is element (i*ws + k*ks) of base.
void pack_panels(const char* base, DType t, int64_t ws, int64_t ks, int64_t i0, int64_t count, int64_t k0,
                 int64_t kc, int w, float* dst) {
  const auto es = static_cast<int64_t>(dtype_size(t));
  const int64_t panels = (count + w - 1) / w;
  const int64_t padded = panels * w;
  auto src = [&](int64_t i, int64_t k) { return base + ((i0 + i) * ws + (k0 + k) * ks) * es; };

  if (ws == 1 && count > 1) {  // width contiguous: convert one run per depth step, deal it out
    float* run = t == DType::f32 ? nullptr : run_buffer(count);
    for (int64_t k = 0; k < kc; ++k) {
      const float* row = reinterpret_cast<const float*>(src(0, k));
      if (run) {
        convert_row_to_f32(t, src(0, k), run, count);
        row = run;
      }
      for (int64_t p = 0; p < panels; ++p) {
        float* d = dst + p * kc * w + k * w;
        const int64_t n = std::min<int64_t>(w, count - p * w);
        if (n == w) {
          std::memcpy(d, row + p * w, static_cast<size_t>(w) * sizeof(float));
        } else {
          std::memcpy(d, row + p * w, static_cast<size_t>(n) * sizeof(float));
          std::fill(d + n, d + w, 0.0f);
        }
      }
    }
    return;
  }
  if (ks == 1) {  // depth contiguous: convert one run per width element, scatter it
    float* run = t == DType::f32 ? nullptr : run_buffer(kc);
    for (int64_t i = 0; i < padded; ++i) {
      float* d = dst + (i / w) * kc * w + (i % w);
      if (i >= count) {
        for (int64_t k = 0; k < kc; ++k) d[k * w] = 0.0f;
        continue;
      }
      const float* col = reinterpret_cast<const float*>(src(i, 0));
      if (run) {
        convert_row_to_f32(t, src(i, 0), run, kc);
        col = run;
      }
      for (int64_t k = 0; k < kc; ++k) d[k * w] = col[k];
    }
    return;
  }
  for (int64_t p = 0; p < panels; ++p)  // general strides: element by element
    for (int64_t k = 0; k < kc; ++k) {
      float* d = dst + p * kc * w + k * w;
      for (int64_t i = 0; i < w; ++i) {
        const int64_t r = p * w + i;
        d[i] = r < count ? load_f32(t, src(r, k), 0) : 0.0f;
      }
    }
}

}  // namespace

void gemm_pack_a(const GemmMatrix& a, int64_t m0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) {
  pack_panels(a.base, a.dtype, a.rs, a.cs, m0, mc, k0, kc, mr, dst);
}

void gemm_pack_b(const GemmMicrokernel& kern, const GemmMatrix& b, int64_t k0, int64_t kc, int64_t n0,
                 int64_t nc, float* dst) {
  const int nr = kern.tiles.nr;
  if (b.cs == 1 && nc > 1)
    kern.pack_b_rows(nr, b.dtype, b.at(k0, n0), b.rs, kc, nc, dst);
  else if (b.rs == 1 && kc > 1)
    kern.pack_b_cols(nr, b.dtype, b.at(k0, n0), b.cs, kc, nc, dst);
  else
    pack_panels(b.base, b.dtype, b.cs, b.rs, n0, nc, k0, kc, nr, dst);
}

}  // namespace porta::cpu
