// Shared-memory layout of the FA3-style sm_90a attention kernel's operand tiles and the
// wgmma matrix descriptors that describe them. Plain constexpr arithmetic, also compiled by
// the host compiler so tests/backends/cuda checks it against the PTX ISA's canonical layouts.
#pragma once

#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define PORTA_ATTN_HD __host__ __device__
#else
#define PORTA_ATTN_HD
#endif

namespace porta::cuda::attn90 {

// Every operand tile is stored as column blocks of 64 16-bit elements (128 bytes) per row:
// block c holds columns [64c, 64c + 64) of all R rows, R * 128 bytes, 1024-byte aligned. In
// a block, 16-byte chunk j of row r sits at chunk j ^ (r % 8): the SWIZZLE_128B pattern
// (address bits [4:6] ^= bits [7:9]) that wgmma undoes when it reads through a descriptor
// with layout type 1. Returns the byte offset of element (row, col) in such a tile.
PORTA_ATTN_HD constexpr uint32_t sw128_offset(int rows, int row, int col) {
  return uint32_t((col / 64) * rows * 128 + row * 128 + ((((col % 64) / 8) ^ (row % 8)) * 16) +
                  (col % 8) * 2);
}

// Matrix descriptor (PTX ISA, "Matrix Descriptor Format"): bits 0-13 start address >> 4,
// 16-29 leading byte offset >> 4, 32-45 stride byte offset >> 4, 49-51 base offset (0: every
// swizzle pattern starts at a 1024-byte boundary), 62-63 swizzle mode (1 = 128B).
PORTA_ATTN_HD constexpr uint64_t sw128_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo) {
  return uint64_t((smem_addr & 0x3FFFF) >> 4) | (uint64_t((lbo & 0x3FFFF) >> 4) << 16) |
         (uint64_t((sbo & 0x3FFFF) >> 4) << 32) | (uint64_t(1) << 62);
}

// K-major operand (rows = M or N, K along the 128-byte rows): canonical SW128 K-major layout
// ((8,m),(T,2k)):((8T,SBO),(1,T)); the leading offset is unused (1 by convention) and the
// stride offset is 1024 bytes between 8-row groups. A k16 step is 32 bytes along the row; the
// hardware applies the swizzle to the full address, so stepping the start address by 32 bytes
// inside a 1024-byte atom is how consecutive k16 slices are addressed.
PORTA_ATTN_HD constexpr uint64_t kmajor_desc(uint32_t smem_addr) { return sw128_desc(smem_addr, 16, 1024); }

// MN-major B operand (N along the 128-byte rows, K = rows): canonical SW128 MN-major layout
// ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO)): LBO is the byte distance between 64-element column
// blocks along N (rows * 128 for the tiles above) and SBO the distance between 8-row groups
// along K (1024 bytes). A k16 step is 16 rows = 2048 bytes further.
PORTA_ATTN_HD constexpr uint64_t mnmajor_desc(uint32_t smem_addr, uint32_t block_bytes) {
  return sw128_desc(smem_addr, block_bytes, 1024);
}

// Start address of k16 step kk of a K-major tile with `rows` rows: column block kk / 4, then
// 32 bytes per step inside the 128-byte row.
PORTA_ATTN_HD constexpr uint32_t kmajor_step(uint32_t tile, int rows, int kk) {
  return tile + uint32_t(kk / 4) * uint32_t(rows) * 128 + uint32_t(kk % 4) * 32;
}

// Start address of k16 step j (rows 16j..16j+15) of an MN-major tile.
PORTA_ATTN_HD constexpr uint32_t mnmajor_step(uint32_t tile, int j) { return tile + uint32_t(j) * 2048; }

}  // namespace porta::cuda::attn90
