#include "backends/opencl/tuning.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "porta/error.h"

namespace porta::opencl {

DeviceTuning tuning_for(bool is_cpu, int compute_units, int pref_vec_float, const std::string& vendor) {
  (void)vendor;  // room for per-vendor rows once measured on real hardware
  DeviceTuning t;
  if (is_cpu) {
    t.cls = DeviceClass::cpu;
    // AVX-512 (preferred width 16): an 8x32 C tile per work-item in 16 of the 32 zmm
    // registers; AVX2: 6x16 in 12 of the 16 ymm registers. Measured on PoCL 3.1 (EPYC,
    // 2 cores): 8x32 gives ~70-76 GFLOP/s at 1024^3, 6x32 ~62-69, 4x48 ~41.
    t.gemm.tile_m = pref_vec_float >= 16 ? 8 : 6;
    t.gemm.vec_n = pref_vec_float >= 16 ? 16 : 8;
    t.gemm.vecs_n = 2;
    t.gemm.wg_n = 1;
    t.gemm.wg_m = 1;
    t.gemm.small_m_max = 8;
    t.gemm.small_m_rows = 4;
    t.gemm.small_m_vec = pref_vec_float >= 16 ? 16 : 8;
    t.row.wg = 1;
    // One work-item per output column walking all of K (no barriers; PoCL vectorises across
    // the group's items), a whole 128-element group per step: one scale multiply per group.
    t.quant.gemv_split = 1;
    t.quant.gemv_local = 8;
    t.quant.gemv_unit = 128;
    t.quant.gemv_vec = pref_vec_float >= 16 ? 16 : 8;
    t.quant.block_bytes = 32 << 20;
    // A work-item's query rows are the lanes of one SIMD register (16 rows on AVX-512, 8 on
    // AVX2) and it stages its own K/V tiles (no sharing, no barriers); decode splits KV until
    // every core has a few (batch, KV head, split) items.
    t.attention.prefill_rows = pref_vec_float >= 16 ? 16 : 8;
    t.attention.prefill_wg = 1;
    t.attention.prefill_keys = 16;
    t.attention.fixed_head_dim = false;
    t.attention.decode_max_rows = 16;
    t.attention.decode_vec = pref_vec_float >= 16 ? 16 : 8;
    t.attention.decode_wg = 1;
    t.attention.decode_min_chunk = 256;
    t.attention.decode_items = std::max(16, 16 * compute_units);
  } else {
    t.cls = DeviceClass::gpu;
    t.gemm.tile_m = 4;
    t.gemm.vec_n = 4;
    t.gemm.vecs_n = 1;
    t.gemm.wg_n = 16;
    t.gemm.wg_m = 16;
    t.gemm.small_m_max = 8;
    t.gemm.small_m_rows = 1;
    t.gemm.small_m_vec = 4;
    t.row.wg = 128;
    // FlashAttention-2 on a GPU without matrix units: a 64-row query block per group, one row
    // per work-item, 32-key K/V tiles in local memory; decode splits KV into 128-key pieces
    // until a few thousand work-items are in flight.
    t.attention.prefill_rows = 1;
    t.attention.prefill_wg = 64;
    t.attention.prefill_keys = 32;
    t.attention.fixed_head_dim = true;
    t.attention.decode_max_rows = 16;
    t.attention.decode_vec = 4;
    t.attention.decode_wg = 64;
    t.attention.decode_min_chunk = 128;
    t.attention.decode_items = std::max(4096, 256 * compute_units);
  }
  return t;
}

void apply_gemm_tile_override(GemmParams& p, const std::string& spec) {
  if (spec.empty()) return;
  std::vector<int> v;
  std::stringstream ss(spec);
  std::string item;
  bool ok = true;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stoi(item, &used));
      ok = ok && used == item.size();
    } catch (...) {
      ok = false;
    }
  }
  ok = ok && (v.size() == 3 || v.size() == 5);
  if (ok) {
    ok = v[0] >= 1 && v[0] <= 8 && (v[1] == 2 || v[1] == 4 || v[1] == 8 || v[1] == 16) && v[2] >= 1 &&
         v[2] <= 4;
    if (v.size() == 5) ok = ok && v[3] >= 1 && v[3] <= 256 && v[4] >= 1 && v[4] <= 256;
  }
  if (!ok)
    throw Error(Errc::invalid_argument,
                "PORTA_OPENCL_GEMM_TILE='" + spec +
                    "' is not TM,VN,NV[,WG_M,WG_N] with TM 1..8, VN 2/4/8/16, NV 1..4, "
                    "work-group extents 1..256 (e.g. 6,16,2 or 4,4,1,16,16)");
  p.tile_m = v[0];
  p.vec_n = v[1];
  p.vecs_n = v[2];
  if (v.size() == 5) {
    p.wg_m = v[3];
    p.wg_n = v[4];
  }
}

}  // namespace porta::opencl
