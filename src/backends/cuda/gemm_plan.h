// Which GEMM kernel runs a call, with which tiles and how many K splits: plain C++ over
// shapes and device facts, unit-tested without a GPU. PORTA_CUDA_GEMM_PATH forces a path.
#pragma once

#include <cstdint>
#include <string>

#include "backends/cuda/tuning_params.h"
#include "kernels/cuda/kernel_args.h"
#include "porta/dtype.h"

namespace porta::cuda {

enum class GemmPath : uint8_t { simt, gemv, sm80, sm90 };
const char* gemm_path_name(GemmPath p);

/// Forced path from PORTA_CUDA_GEMM_PATH: auto (empty), simt, gemv, sm80, sm90.
enum class GemmForce : uint8_t { none, simt, gemv, sm80, sm90 };
/// Parses the setting; false for an unknown value.
bool parse_gemm_force(const std::string& s, GemmForce* out);

/// What the planner needs to know about a call (after core's normalisation).
struct GemmShape {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  DType a = DType::f32, b = DType::f32;
  int64_t a_strides[3] = {0, 0, 1};  // batch, M, K
  int64_t b_strides[3] = {0, 0, 1};  // batch, K, N
  uint64_t a_addr = 0, b_addr = 0;   // device addresses (alignment)
};

/// The SM count PORTA_DETERMINISTIC plans with (an H100 SXM's), whatever the device has.
constexpr int kDeterministicPartitionSms = 132;

struct GemmDeviceFacts {
  int cc_major = 0, cc_minor = 0;
  int sm_count = 1;
  bool nvidia_paths = true;  // the build carries the mma.sync/wgmma kernels
  bool sm90_built = false;   // a wgmma kernel exists in this build
  // SMs assumed when choosing tiles and split counts; 0: sm_count. PORTA_DETERMINISTIC sets
  // kDeterministicPartitionSms so the split (and the rounding) does not depend on the part.
  int partition_sms = 0;  // last: aggregate initialisers list the fields above
};

struct GemmPlan {
  GemmPath path = GemmPath::simt;
  GemmTile tile;
  int splits = 1;
  bool b_kmajor = false;
  int64_t ctas = 0;  // sm90: persistent grid, min(work units, SMs); 0 for the other paths
  std::string note;  // why this path (for debug logs)
};

/// One row of the tile table: a tile some kernel is compiled with. `efficiency` is the
/// relative throughput of a full tile (larger tiles reuse each loaded byte more), used to
/// compare candidates of one path.
struct GemmTileEntry {
  GemmPath path;
  int min_cc_major;
  GemmTile tile;
  double efficiency;
};

/// The tile table (data): every tile of every path, best first within a path.
const GemmTileEntry* gemm_tile_table(int* count);

/// The path's first (largest) tile.
GemmTile gemm_tile_for(GemmPath p);

/// The path's tile for this shape: the candidate minimising waves * tile area / efficiency,
/// waves = ceil(tiles / SMs) (quantisation: a last, partly filled wave costs a full one);
/// ties keep the earlier (larger) tile.
GemmTile choose_tile(GemmPath p, const GemmShape& s, int sm_count);

/// Whether the tensor-core kernels take this shape: one f16/bf16 dtype for A and B, A and
/// B each unit-stride along K or (B) along N, rows 16-byte aligned, K % 8 == 0.
bool tensor_core_eligible(const GemmShape& s, bool* b_kmajor);

/// Split-K factor: more CTAs when the output tiles alone cannot fill the SMs and K is long
/// (each split at least t.splitk_min_k_tiles K tiles, at most t.splitk_max splits).
int choose_splits(int64_t tiles, int64_t K, int block_k, int sm_count, const GemmTuning& t = GemmTuning{});

/// Path, tile, splits. Auto: M <= t.gemv_max_m -> gemv; sm_90 device with TMA-describable operands ->
/// sm90; other tensor-core eligible calls -> sm80; else simt. Never an NVIDIA-only path when
/// the build lacks it (the hip module), never sm90 off sm_90.
GemmPlan plan_gemm(const GemmShape& s, const GemmDeviceFacts& dev, GemmForce force,
                   const GemmTuning& t = GemmTuning{});

}  // namespace porta::cuda
