// sm_90a wgmma shared-memory matrix descriptors for 128-byte-swizzled tiles (the layout TMA
// writes with CU_TENSOR_MAP_SWIZZLE_128B, and the attention kernel's cp.async tiles). Plain
// integer arithmetic, host-callable too: tests/backends/cuda checks the encodings against the
// PTX ISA's canonical layouts. No device-only code here (sm90_wgmma.cuh has the instructions).
#pragma once

#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define PORTA_SM90_HD __host__ __device__ __forceinline__
#else
#define PORTA_SM90_HD inline
#endif

namespace porta::cuda::sm90 {

// Matrix descriptor (PTX ISA, "matrix-descriptor-encode"): bits 0-13 start address >> 4,
// 16-29 leading-dimension byte offset (LBO) >> 4, 32-45 stride-dimension byte offset
// (SBO) >> 4, 49-51 base offset (0: every tile base is 1024-byte aligned, so the swizzle
// phase is given by the address bits alone), 62-63 swizzle mode (1 = 128B).
PORTA_SM90_HD constexpr uint64_t sw128_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo) {
  return uint64_t((smem_addr >> 4) & 0x3fff) | uint64_t((lbo >> 4) & 0x3fff) << 16 |
         uint64_t((sbo >> 4) & 0x3fff) << 32 | uint64_t(1) << 62;
}

/// K-major tile, rows of 64 16-bit elements (128 bytes) along K, 128B swizzle: canonical
/// ((8,m),(T,2k)):((8T,SBO),(1,T)); 8-row groups are 1024 bytes apart (SBO); LBO is unused
/// for swizzled K-major layouts (1 by convention). The k-th 16-element slice of a row starts
/// 32*k bytes further: the hardware applies the swizzle to the final address bits, so
/// advancing the start address inside a 1024-byte atom is enough.
PORTA_SM90_HD constexpr uint64_t desc_kmajor_sw128(uint32_t smem_addr) {
  return sw128_desc(smem_addr, 16, 1024);
}

/// MN-major tile made of blocks of 64 (MN) x 64 (K) 16-bit elements, each block the
/// 8192-byte image of one TMA box {64 along MN, 64 along K}: K row r of a block holds MN
/// elements 0..63 in 128 swizzled bytes. CUTLASS's canonical form
/// Swizzle<3,4,3> o ((8,8,m),(8,k)):((1,8,LBO),(64,SBO)) in elements: LBO = bytes between
/// consecutive 64-wide MN blocks (mn_block_bytes), SBO = bytes between 8-row K groups (1024).
/// The next 16 K rows start 2048 bytes further.
PORTA_SM90_HD constexpr uint64_t desc_mnmajor_sw128(uint32_t smem_addr, uint32_t mn_block_bytes) {
  return sw128_desc(smem_addr, mn_block_bytes, 1024);
}

}  // namespace porta::cuda::sm90
