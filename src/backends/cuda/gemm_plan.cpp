#include "backends/cuda/gemm_plan.h"

#include <algorithm>

#include "backends/cuda/tma_map.h"
#include "kernels/cuda/gemm_tiles.h"

namespace porta::cuda {

const char* gemm_path_name(GemmPath p) {
  switch (p) {
    case GemmPath::simt: return "simt";
    case GemmPath::gemv: return "gemv";
    case GemmPath::sm80: return "sm80";
    case GemmPath::sm90: return "sm90";
  }
  return "?";
}

bool parse_gemm_force(const std::string& s, GemmForce* out) {
  if (s.empty() || s == "auto")
    *out = GemmForce::none;
  else if (s == "simt")
    *out = GemmForce::simt;
  else if (s == "gemv")
    *out = GemmForce::gemv;
  else if (s == "sm80")
    *out = GemmForce::sm80;
  else if (s == "sm90")
    *out = GemmForce::sm90;
  else
    return false;
  return true;
}

namespace {

// Tile table: the rows of kernels/cuda/gemm_tiles.h (each kernel checks its constants against
// its row). 128x256 is the usual best for large bf16 GEMMs on H100; 128x128 wins when 128x256
// tiles would leave much of the last wave idle.
constexpr GemmTileEntry kTileTable[] = {
    {GemmPath::simt, 0, gemm_tile_simt(), 1.0},     {GemmPath::gemv, 0, gemm_tile_gemv(), 1.0},
    {GemmPath::sm80, 8, gemm_tile_sm80(), 1.0},     {GemmPath::sm90, 9, gemm_tile_sm90(256), 1.0},
    {GemmPath::sm90, 9, gemm_tile_sm90(128), 0.85},
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t tile_count(const GemmShape& s, const GemmTile& t) {
  return ceil_div(s.M, t.block_m) * ceil_div(s.N, t.block_n) * s.batch;
}

}  // namespace

const GemmTileEntry* gemm_tile_table(int* count) {
  *count = static_cast<int>(sizeof(kTileTable) / sizeof(kTileTable[0]));
  return kTileTable;
}

GemmTile gemm_tile_for(GemmPath p) {
  for (const GemmTileEntry& e : kTileTable)
    if (e.path == p) return e.tile;
  return kTileTable[0].tile;
}

GemmTile choose_tile(GemmPath p, const GemmShape& s, int sm_count) {
  const int64_t sms = std::max(1, sm_count);
  const GemmTileEntry* best = nullptr;
  double best_cost = 0;
  for (const GemmTileEntry& e : kTileTable) {
    if (e.path != p) continue;
    const double waves = static_cast<double>(ceil_div(tile_count(s, e.tile), sms));
    const double cost = waves * e.tile.block_m * e.tile.block_n / e.efficiency;
    if (!best || cost < best_cost) best = &e, best_cost = cost;
  }
  return best ? best->tile : gemm_tile_for(p);
}

bool tensor_core_eligible(const GemmShape& s, bool* b_kmajor) {
  if (s.a != s.b || (s.a != DType::f16 && s.a != DType::bf16)) return false;
  if (s.K % 8 != 0 || s.a_addr % 16 != 0 || s.b_addr % 16 != 0) return false;
  // A: unit stride along K, row and batch strides multiples of 8 elements (16 bytes).
  if (s.a_strides[2] != 1) return false;
  if (s.M > 1 && s.a_strides[1] % 8 != 0) return false;
  if (s.batch > 1 && s.a_strides[0] % 8 != 0) return false;
  if (s.batch > 1 && s.b_strides[0] % 8 != 0) return false;
  if (s.b_strides[1] == 1 && (s.N == 1 || s.b_strides[2] % 8 == 0)) {  // [N, K] weights
    if (b_kmajor) *b_kmajor = true;
    return true;
  }
  if (s.b_strides[2] == 1 && s.N % 8 == 0 && s.b_strides[1] % 8 == 0) {  // [K, N]
    if (b_kmajor) *b_kmajor = false;
    return true;
  }
  return false;
}

int choose_splits(int64_t tiles, int64_t K, int block_k, int sm_count, const GemmTuning& t) {
  if (tiles <= 0 || sm_count <= 0 || tiles >= sm_count) return 1;
  // Each split keeps enough K tiles of work that the partial sums pay for their traffic.
  const int64_t cap =
      std::min<int64_t>(t.splitk_max, K / (static_cast<int64_t>(block_k) * t.splitk_min_k_tiles));
  // Time ~ waves of units, each 1/s of the K loop: minimise ceil(tiles*s / SMs) / s, the
  // smallest s on ties (less partial-sum traffic).
  int64_t best = 1;
  for (int64_t sp = 2; sp <= cap; ++sp) {
    const int64_t waves = (tiles * sp + sm_count - 1) / sm_count;
    const int64_t best_waves = (tiles * best + sm_count - 1) / sm_count;
    if (waves * best < best_waves * sp) best = sp;  // waves/sp < best_waves/best
  }
  return static_cast<int>(best);
}

GemmPlan plan_gemm(const GemmShape& s, const GemmDeviceFacts& dev, GemmForce force, const GemmTuning& t) {
  GemmPlan p;
  bool kmajor = false;
  const bool tc = dev.nvidia_paths && dev.cc_major >= 8 && tensor_core_eligible(s, &kmajor);
  const bool gemv_ok = s.M <= t.gemv_max_m && s.batch <= 65535;
  // sm90: the kernel's body exists only in sm_90a code (sm90_built: CMake listed 90a; its
  // compute_90 PTX would trap), and TMA must be able to describe both operands with the
  // chosen tile.
  const bool hopper = dev.nvidia_paths && dev.sm90_built && dev.cc_major == 9 && dev.cc_minor == 0;
  const int psms = dev.partition_sms > 0 ? dev.partition_sms : dev.sm_count;
  GemmTile sm90_tile = choose_tile(GemmPath::sm90, s, psms);
  TmaMapSpec ma, mb;
  const bool sm90_ok = tc && hopper && gemm_tma_specs(s, sm90_tile, kmajor, &ma, &mb);
  const char* no_sm90 = !dev.sm90_built || !dev.nvidia_paths ? "no sm_90a kernel in this build"
                        : !hopper                            ? "the device is not sm_90"
                                                             : "TMA cannot describe the operands";
  switch (force) {
    case GemmForce::simt:
      p.path = GemmPath::simt;
      p.note = "forced simt";
      break;
    case GemmForce::gemv:
      p.path = gemv_ok ? GemmPath::gemv : GemmPath::simt;
      p.note = gemv_ok ? "forced gemv" : "forced gemv, M above the gemv rows: simt";
      break;
    case GemmForce::sm80:
      p.path = tc ? GemmPath::sm80 : GemmPath::simt;
      p.note = tc ? "forced sm80" : "forced tensor-core path does not take these dtypes/strides: simt";
      break;
    case GemmForce::sm90:
      if (sm90_ok) {
        p.path = GemmPath::sm90;
        p.note = "forced sm90 (TMA + wgmma, warp-specialised)";
      } else if (tc) {
        p.path = GemmPath::sm80;
        p.note = std::string("forced sm90, ") + no_sm90 + ": sm80";
      } else {
        p.path = GemmPath::simt;
        p.note = "forced tensor-core path does not take these dtypes/strides: simt";
      }
      break;
    case GemmForce::none:
      if (gemv_ok) {
        p.path = GemmPath::gemv;
        p.note = "small M: bandwidth-bound GEMV";
      } else if (sm90_ok) {
        p.path = GemmPath::sm90;
        p.note = "Hopper tensor cores (TMA + wgmma, warp-specialised, persistent)";
      } else if (tc) {
        p.path = GemmPath::sm80;
        p.note = "tensor cores (mma.sync, cp.async pipeline)";
      } else {
        p.path = GemmPath::simt;
        p.note = dev.cc_major >= 8 && dev.nvidia_paths ? "dtypes/strides not tensor-core eligible: simt"
                                                       : "no tensor-core path for this device: simt";
      }
      break;
  }
  p.tile = p.path == GemmPath::sm90 ? sm90_tile : gemm_tile_for(p.path);
  p.b_kmajor = kmajor;
  if (p.path == GemmPath::gemv) {
    // gemv.cu: 32 columns per block for [N, K] B (256 for N-contiguous [K, N] B). Too few
    // blocks to keep every SM streaming (fewer than SMs): split K (ranges of at least
    // gemv_min_split_k) to about gemv_blocks_per_sm per SM.
    const int64_t cols = s.b_strides[2] == 1 && s.b_strides[1] != 1 ? 256 : 32;
    const int64_t sms = std::max(1, psms), blocks = ceil_div(s.N, cols) * s.batch;
    if (blocks < sms)
      p.splits = static_cast<int>(
          std::max<int64_t>(1, std::min<int64_t>({ceil_div(int64_t{t.gemv_blocks_per_sm} * sms, blocks),
                                                  s.K / t.gemv_min_split_k, int64_t{t.gemv_max_splits}})));
  } else {
    const int64_t tiles = tile_count(s, p.tile);
    p.splits = choose_splits(tiles, s.K, p.tile.block_k, psms, t);
    if (p.path == GemmPath::sm90) p.ctas = std::min<int64_t>(tiles * p.splits, std::max(1, dev.sm_count));
  }
  return p;
}

}  // namespace porta::cuda
