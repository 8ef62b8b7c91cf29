// The GEMM tile rows, one per compiled kernel instance (tuning as data, every value set by
// field name). gemm_plan.cpp's table lists these rows; each kernel static_asserts its
// compile-time constants against its row, so the planner and the compiled kernels cannot
// disagree, and each launcher rejects a tile it was not compiled with (kTileMismatch) rather
// than silently running another.
#pragma once

#include "kernel_args.h"

namespace porta::cuda {

/// Returned by a GEMM launcher handed a tile no instance of its kernel was compiled with.
/// Not a runtime status (those are small positive numbers): check_launch names it.
constexpr int kTileMismatch = -1;

constexpr bool same_tile(const GemmTile& a, const GemmTile& b) {
  return a.block_m == b.block_m && a.block_n == b.block_n && a.block_k == b.block_k &&
         a.warps_m == b.warps_m && a.warps_n == b.warps_n && a.stages == b.stages;
}

/// gemm_simt.cu: 256 threads as 16 x 16, each a 4 x 4 register tile (warps_* count threads' results).
constexpr GemmTile gemm_tile_simt() {
  GemmTile t;
  t.block_m = 64;
  t.block_n = 64;
  t.block_k = 16;
  t.warps_m = 4;
  t.warps_n = 4;
  t.stages = 1;
  return t;
}

/// gemv.cu: M up to 16 (block_m), 8 lane groups per block, K ranges in multiples of 256.
constexpr GemmTile gemm_tile_gemv() {
  GemmTile t;
  t.block_m = 16;
  t.block_n = 8;
  t.block_k = 256;
  t.warps_m = 1;
  t.warps_n = 8;
  t.stages = 1;
  return t;
}

/// gemm_sm80_mma.cu: 8 warps as 2 x 4 (64 x 32 warp tiles), a 3-stage cp.async ring.
constexpr GemmTile gemm_tile_sm80() {
  GemmTile t;
  t.block_m = 128;
  t.block_n = 128;
  t.block_k = 32;
  t.warps_m = 2;
  t.warps_n = 4;
  t.stages = 3;
  return t;
}

/// gemm_sm90_tma_ws.cu: two consumer warpgroups of 64 rows (warps_m = 2) and a TMA producer;
/// the ring's slots fill 192 KiB: 4 of 128 x 256, 6 of 128 x 128.
constexpr GemmTile gemm_tile_sm90(int block_n) {
  GemmTile t;
  t.block_m = 128;
  t.block_n = block_n;
  t.block_k = 64;
  t.warps_m = 2;
  t.warps_n = 1;
  t.stages = block_n == 256 ? 4 : 6;
  return t;
}

}  // namespace porta::cuda
