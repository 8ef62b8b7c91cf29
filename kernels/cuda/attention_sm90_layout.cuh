// Shared-memory layout of the FA3-style sm_90a attention kernel's operand tiles (the wgmma
// matrix descriptors that describe them are sm90_desc.h's desc_kmajor_sw128 /
// desc_mnmajor_sw128). Plain constexpr arithmetic, also compiled by the host compiler so
// tests/backends/cuda checks it against the PTX ISA's canonical layouts.
#pragma once

#include <cstdint>

#include "sm90_desc.h"  // PORTA_SM90_HD, the SW128 descriptors

namespace porta::cuda::attn90 {

// Every operand tile is stored as column blocks of 64 16-bit elements (128 bytes) per row:
// block c holds columns [64c, 64c + 64) of all R rows, R * 128 bytes, 1024-byte aligned. In
// a block, 16-byte chunk j of row r sits at chunk j ^ (r % 8): the SWIZZLE_128B pattern
// (address bits [4:6] ^= bits [7:9]) that wgmma undoes when it reads through a descriptor
// with layout type 1. Returns the byte offset of element (row, col) in such a tile.
PORTA_SM90_HD constexpr uint32_t sw128_offset(int rows, int row, int col) {
  return uint32_t((col / 64) * rows * 128 + row * 128 + ((((col % 64) / 8) ^ (row % 8)) * 16) +
                  (col % 8) * 2);
}

// K-major tiles are read through sm90::desc_kmajor_sw128 (a k16 step is 32 bytes along the
// row, inside a 1024-byte atom), MN-major B tiles through sm90::desc_mnmajor_sw128 with LBO =
// rows * 128 (the byte distance between 64-element column blocks along N); a k16 step is 16
// rows = 2048 bytes further.

// Start address of k16 step kk of a K-major tile with `rows` rows: column block kk / 4, then
// 32 bytes per step inside the 128-byte row.
PORTA_SM90_HD constexpr uint32_t kmajor_step(uint32_t tile, int rows, int kk) {
  return tile + uint32_t(kk / 4) * uint32_t(rows) * 128 + uint32_t(kk % 4) * 32;
}

// Start address of k16 step j (rows 16j..16j+15) of an MN-major tile.
PORTA_SM90_HD constexpr uint32_t mnmajor_step(uint32_t tile, int j) { return tile + uint32_t(j) * 2048; }

}  // namespace porta::cuda::attn90
