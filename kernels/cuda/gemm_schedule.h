// Work decomposition of the persistent sm90 GEMM, as plain arithmetic shared by the kernel
// (gemm_sm90_tma_ws.cu) and the host unit tests: unit u -> (batch, K split, output tile).
#pragma once

#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define PORTA_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PORTA_HOST_DEVICE inline
#endif

namespace porta::cuda {

/// One work unit: output tile at (m0, n0) of batch b, K range [k0, k0 + ktiles*block_k)
/// clipped to K (the last tile's excess is zero-filled by TMA).
struct GemmUnit {
  int64_t b = 0, m0 = 0, n0 = 0, k0 = 0;
  int split = 0, ktiles = 0;
};

/// K elements per split: ceil(K / splits) rounded up to whole block_k slices, so a slice
/// never straddles two splits.
PORTA_HOST_DEVICE int64_t gemm_split_chunk(int64_t K, int splits, int block_k) {
  return ((K + splits - 1) / splits + block_k - 1) / block_k * block_k;
}

/// Units are ordered [batch][split][tile]; tiles of one (batch, split) slab in groups of
/// `group_rows` tile rows, column-major inside a group, so CTAs running at the same time
/// share A rows and B columns in L2.
PORTA_HOST_DEVICE GemmUnit gemm_unit_at(int64_t u, int64_t M, int64_t N, int64_t K, int splits, int block_m,
                                        int block_n, int block_k, int group_rows) {
  GemmUnit w;
  const int64_t tiles_m = (M + block_m - 1) / block_m, tiles_n = (N + block_n - 1) / block_n;
  const int64_t per_slab = tiles_m * tiles_n;
  const int64_t slab = u / per_slab, t = u % per_slab;
  w.b = slab / splits;
  w.split = int(slab % splits);
  const int64_t span = int64_t(group_rows) * tiles_n;
  const int64_t first = t / span * group_rows;
  const int64_t rows = tiles_m - first < group_rows ? tiles_m - first : group_rows;
  const int64_t r = t % span;
  w.m0 = (first + r % rows) * block_m;
  w.n0 = r / rows * block_n;
  const int64_t chunk = gemm_split_chunk(K, splits, block_k);
  w.k0 = int64_t(w.split) * chunk;
  const int64_t k_end = w.k0 + chunk < K ? w.k0 + chunk : K;
  w.ktiles = k_end > w.k0 ? int((k_end - w.k0 + block_k - 1) / block_k) : 0;
  return w;
}

}  // namespace porta::cuda
