#include "backends/cuda/gemm_plan.h"

#include <algorithm>

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

GemmTile gemm_tile_for(GemmPath p) {
  GemmTile t;
  switch (p) {
    case GemmPath::simt: t = {64, 64, 16, 4, 4, 1}; break;    // 256 threads, 4x4 per thread
    case GemmPath::gemv: t = {16, 8, 256, 1, 8, 1}; break;    // 8 lane groups, one column each
    case GemmPath::sm80: t = {128, 128, 32, 2, 4, 3}; break;  // gemm_sm80_mma.cu constants
    case GemmPath::sm90: t = {128, 128, 64, 2, 1, 4}; break;  // gemm_sm90_wgmma.cu: 2 warpgroups
  }
  return t;
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

int choose_splits(int64_t tiles, int64_t K, int block_k, int sm_count) {
  if (tiles <= 0 || sm_count <= 0 || tiles >= sm_count) return 1;
  // Each split keeps at least 8 K tiles of work so the partial sums pay for their traffic.
  const int64_t by_k = K / (static_cast<int64_t>(block_k) * 8);
  const int64_t want = (sm_count + tiles - 1) / tiles;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({want, by_k, 16})));
}

GemmPlan plan_gemm(const GemmShape& s, const GemmDeviceFacts& dev, GemmForce force) {
  GemmPlan p;
  bool kmajor = false;
  const bool tc = dev.nvidia_paths && dev.cc_major >= 8 && tensor_core_eligible(s, &kmajor);
  const bool gemv_ok = s.M <= 16 && s.batch <= 65535;
  switch (force) {
    case GemmForce::simt:
      p.path = GemmPath::simt;
      p.note = "forced simt";
      break;
    case GemmForce::gemv:
      p.path = gemv_ok ? GemmPath::gemv : GemmPath::simt;
      p.note = gemv_ok ? "forced gemv" : "forced gemv, M > 16: simt";
      break;
    case GemmForce::sm80:
      p.path = tc ? GemmPath::sm80 : GemmPath::simt;
      p.note = tc ? "forced sm80" : "forced tensor-core path does not take these dtypes/strides: simt";
      break;
    case GemmForce::sm90:
      // The wgmma kernel takes [N, K] (K-contiguous) B on sm_90 only; until it has passed the
      // conformance suite on an H100 it runs only when forced.
      if (tc && kmajor && dev.sm90_built && dev.cc_major == 9) {
        p.path = GemmPath::sm90;
        p.note = "forced sm90 (wgmma)";
      } else if (tc) {
        p.path = GemmPath::sm80;
        p.note = !dev.sm90_built     ? "forced sm90, no wgmma kernel in this build: sm80"
                 : dev.cc_major != 9 ? "forced sm90 on a device that is not sm_90: sm80"
                                     : "forced sm90, B is not K-contiguous: sm80";
      } else {
        p.path = GemmPath::simt;
        p.note = "forced tensor-core path does not take these dtypes/strides: simt";
      }
      break;
    case GemmForce::none:
      if (gemv_ok) {
        p.path = GemmPath::gemv;
        p.note = "M <= 16: bandwidth-bound GEMV";
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
  p.tile = gemm_tile_for(p.path);
  p.b_kmajor = kmajor;
  if (p.path != GemmPath::gemv) {
    const int64_t tiles = ((s.M + p.tile.block_m - 1) / p.tile.block_m) *
                          ((s.N + p.tile.block_n - 1) / p.tile.block_n) * s.batch;
    p.splits = choose_splits(tiles, s.K, p.tile.block_k, dev.sm_count);
  }
  return p;
}

}  // namespace porta::cuda
