// Tensor maps for the sm90 TMA kernels: the parameters (plain data, unit-tested without a
// GPU) and their encoding through the driver's cuTensorMapEncodeTiled, reached with
// cudaGetDriverEntryPointByVersion so the module never links libcuda. The hip module has
// no TMA: encode_tma_map always fails there and the planners never choose a TMA path.
#pragma once

#include <cstdint>
#include <string>

#include "backends/cuda/gemm_plan.h"
#include "kernels/cuda/kernel_args.h"

namespace porta::cuda {

/// A rank-3 tiled tensor map of 16-bit elements with 128-byte swizzle, zero fill out of
/// bounds. Dimension 0 is the contiguous one.
struct TmaMapSpec {
  uint64_t addr = 0;
  bool bf16 = true;                // else f16
  uint64_t dims[3] = {1, 1, 1};    // extents in elements, innermost first
  uint64_t strides[2] = {16, 16};  // bytes between steps of dims 1 and 2
  uint32_t box[3] = {1, 1, 1};     // elements copied per load along each dim
};

/// The TMA rules a spec must meet (cuTensorMapEncodeTiled's documented limits): address
/// 16-byte aligned, dims in [1, 2^32], strides multiples of 16 below 2^40, box extents in
/// [1, 256] (a box may reach past the tensor: TMA zero-fills), inner box exactly 128 bytes
/// (the swizzle span).
bool tma_spec_valid(const TmaMapSpec& s);

/// The maps of the sm90 GEMM for a call: A as (K, M, batch) with box (block_k, block_m, 1);
/// B K-major ([N, K]) as (K, N, batch) with box (block_k, block_n, 1), N-major ([K, N]) as
/// (N, K, batch) with box (64, block_k, 1) loaded block_n / 64 times. An operand whose batch
/// stride is 0 (broadcast) gets a batch extent of 1 (the kernel then uses coordinate 0).
/// Strides of extent-1 dims, which TMA never steps but still checks, are replaced by a legal
/// value. False when TMA cannot describe the operands (then the caller takes sm80).
bool gemm_tma_specs(const GemmShape& s, const GemmTile& t, bool b_kmajor, TmaMapSpec* a, TmaMapSpec* b);

/// Encodes `s` into `out`; false (and `why`) when this build or the driver has no TMA or the
/// driver refuses the parameters.
bool encode_tma_map(const TmaMapSpec& s, TmaMap* out, std::string* why);

}  // namespace porta::cuda
