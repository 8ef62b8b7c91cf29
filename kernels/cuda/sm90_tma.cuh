// sm_90 Tensor Memory Accelerator loads (PTX ISA "cp.async.bulk.tensor"): one thread asks
// the TMA unit to copy a box of a global tensor, described by a CUtensorMap that the host
// encoded (src/backends/cuda/tma_map.cpp), into shared memory; the copy signals an mbarrier
// with its byte count (complete_tx). Out-of-bounds parts of the box are zero-filled and still
// count their bytes, so expect_tx is always the full box size.
// Included only where PORTA_CUDA_NVIDIA_PATHS is defined; the bodies exist only for sm_90+.
#pragma once

#include <cstdint>

#include "kernel_args.h"   // TmaMap
#include "sm90_wgmma.cuh"  // smem_u32

namespace porta::cuda::sm90 {

/// Generic address of a tensor map; `map` must live in parameter (__grid_constant__),
/// constant or global memory.
__device__ __forceinline__ uint64_t tma_map_addr(const TmaMap* map) {
  return reinterpret_cast<uint64_t>(map);
}

/// Pulls the descriptor into the TMA unit's cache ahead of the first load.
__device__ __forceinline__ void tma_prefetch_map(const TmaMap* map) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(tma_map_addr(map)) : "memory");
#endif
}

/// Copies the box at coordinates (c0 innermost, c1, c2) of a rank-3 map into shared memory at
/// `dst` (aligned as the map's swizzle needs: 1024 bytes for 128B) and adds its bytes to
/// `bar`'s transaction count.
__device__ __forceinline__ void tma_load_3d(void* dst, const TmaMap* map, uint64_t* bar, int32_t c0,
                                            int32_t c1, int32_t c2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, "
      "%4}], "
      "[%5];\n" ::"r"(smem_u32(dst)),
      "l"(tma_map_addr(map)), "r"(c0), "r"(c1), "r"(c2), "r"(smem_u32(bar))
      : "memory");
#endif
}

}  // namespace porta::cuda::sm90
