#include "backends/opencl/tuning.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "porta/error.h"

namespace porta::opencl {

namespace {

using Params = TuningParams;

// A CPU device with `vec`-float preferred vectors (16: AVX-512, 8: AVX2 and narrower).
constexpr Params cpu_row(int vec) {
  Params p;
  // AVX-512: an 8x32 C tile per work-item in 16 of the 32 zmm registers; AVX2: 6x16 in 12 of
  // the 16 ymm registers. Measured on PoCL 3.1 (EPYC, 2 cores): 8x32 gives ~70-76 GFLOP/s at
  // 1024^3, 6x32 ~62-69, 4x48 ~41.
  p.gemm.tile_m = vec >= 16 ? 8 : 6;
  p.gemm.vec_n = vec;
  p.gemm.vecs_n = 2;
  p.gemm.wg_n = 1;
  p.gemm.wg_m = 1;
  p.gemm.k_block = 0;
  p.gemm.small_m_max = 8;
  p.gemm.small_m_rows = 4;
  p.gemm.small_m_vec = vec;
  p.row.wg = 1;
  // One work-item per output column walking all of K (no barriers; PoCL vectorises across
  // the group's items), a whole 128-element group per step: one scale multiply per group.
  p.quant.gemv_split = 1;
  p.quant.gemv_local = 8;
  p.quant.gemv_unit = 128;
  p.quant.gemv_vec = vec;
  p.quant.block_bytes = 32 << 20;
  // A work-item's query rows are the lanes of one SIMD register and it stages its own K/V
  // tiles (no sharing, no barriers); decode splits KV until every core has a few
  // (batch, KV head, split) items.
  p.attention.prefill_rows = vec;
  p.attention.prefill_wg = 1;
  p.attention.prefill_keys = 16;
  p.attention.fixed_head_dim = 0;
  p.attention.decode_max_rows = 16;
  p.attention.decode_vec = vec;
  p.attention.decode_wg = 1;
  p.attention.decode_min_chunk = 256;
  // Four (batch, KV head, split) items per core: on 2 cores B = 1 with 8 KV heads runs
  // unsplit (no partials, no combine launch): B = 1 KV 4096 f16 at 0.46-0.48x of ops::copy
  // against 0.38-0.43x with 16 or 32 items (porta-bench vs_copy_bw, PoCL, 2-core EPYC, load ~5.5).
  p.attention.decode_items = 8;
  p.attention.decode_items_per_unit = 4;
  p.attention.decode_grouped = 1;
  p.attention.decode_span = 256;
  // K and V rows fetched 8 keys (2 KiB of f16 rows at D 128) ahead: B = 1 KV 4096 f16 decode
  // from DRAM ~10 -> ~12-13 GB/s per CPU-second on PoCL (EPYC, 2 cores; 16 and 32 keys: ~11-12).
  p.attention.decode_prefetch = 8;
  // Each pass's rows already in L2 when it starts (V during the K pass, the next span's K
  // during the V pass): B = 1 KV 4096 f16 decode ~10.5-11.5 -> ~12-14.5 GB/s per CPU-second.
  p.attention.decode_prefetch_l2 = 1;
  // The device computes out of host memory: buffers from 2 MiB up on transparent huge pages.
  // PoCL's own buffers are malloc'd 4 KiB pages, on which two interleaved f16 streams (decode's
  // K and V) read at 8-12 GB/s per core against ~16 GB/s on huge pages (EPYC, plain C).
  p.memory.huge_host_min = 2 << 20;
  return p;
}

constexpr Params gpu_row() {
  Params p;
  p.gemm.tile_m = 4;
  p.gemm.vec_n = 4;
  p.gemm.vecs_n = 1;
  p.gemm.wg_n = 16;
  p.gemm.wg_m = 16;
  p.gemm.k_block = 0;
  p.gemm.small_m_max = 8;
  p.gemm.small_m_rows = 1;
  p.gemm.small_m_vec = 4;
  p.row.wg = 128;
  p.quant.gemv_split = 64;
  p.quant.gemv_local = 64;
  p.quant.gemv_unit = 32;
  p.quant.gemv_vec = 8;
  p.quant.block_bytes = 64 << 20;
  // FlashAttention-2 on a GPU without matrix units: a 64-row query block per group, one row
  // per work-item, 32-key K/V tiles in local memory; decode splits KV into 128-key pieces
  // until a few thousand work-items are in flight.
  p.attention.prefill_rows = 1;
  p.attention.prefill_wg = 64;
  p.attention.prefill_keys = 32;
  p.attention.fixed_head_dim = 1;
  p.attention.decode_max_rows = 16;
  p.attention.decode_vec = 4;
  p.attention.decode_wg = 64;
  p.attention.decode_min_chunk = 128;
  p.attention.decode_items = 4096;
  p.attention.decode_items_per_unit = 256;
  return p;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// Most specific row wins (core/tuning_table.h); room for per-vendor and per-device rows once
// measured on real hardware. The default row is the GPU one (accelerators take it too).
constexpr tuning::Row<TuningParams> kTuningTable[3] = {
    {"cpu-vec16", nullptr, "cpu-vec16", nullptr, cpu_row(16)},
    {"cpu-vec8", nullptr, "cpu-vec8", nullptr, cpu_row(8)},
    {"gpu", nullptr, nullptr, nullptr, gpu_row()},
};

constexpr tuning::Field<TuningParams> kTuningFields[30] = {
    PORTA_TUNING_FIELD(Params, gemm.tile_m, 1, 8),
    PORTA_TUNING_FIELD(Params, gemm.vec_n, 1, 16),
    PORTA_TUNING_FIELD(Params, gemm.vecs_n, 1, 4),
    PORTA_TUNING_FIELD(Params, gemm.wg_n, 1, 256),
    PORTA_TUNING_FIELD(Params, gemm.wg_m, 1, 256),
    PORTA_TUNING_FIELD(Params, gemm.k_block, 0, 1 << 16),
    PORTA_TUNING_FIELD(Params, gemm.small_m_max, 0, 64),
    PORTA_TUNING_FIELD(Params, gemm.small_m_rows, 1, 16),
    PORTA_TUNING_FIELD(Params, gemm.small_m_vec, 1, 16),
    PORTA_TUNING_FIELD(Params, quant.gemv_split, 1, 256),
    PORTA_TUNING_FIELD(Params, quant.gemv_local, 1, 1024),
    PORTA_TUNING_FIELD(Params, quant.gemv_unit, 8, 1024),
    PORTA_TUNING_FIELD(Params, quant.gemv_vec, 8, 16),
    PORTA_TUNING_FIELD(Params, quant.block_bytes, 1 << 20, 1 << 30),
    PORTA_TUNING_FIELD(Params, row.wg, 1, 1024),
    PORTA_TUNING_FIELD(Params, attention.prefill_rows, 1, 16),
    PORTA_TUNING_FIELD(Params, attention.prefill_wg, 1, 1024),
    PORTA_TUNING_FIELD(Params, attention.prefill_keys, 1, 256),
    PORTA_TUNING_FIELD(Params, attention.fixed_head_dim, 0, 1),
    PORTA_TUNING_FIELD(Params, attention.decode_max_rows, 1, 16),
    PORTA_TUNING_FIELD(Params, attention.decode_vec, 4, 16),
    PORTA_TUNING_FIELD(Params, attention.decode_wg, 1, 1024),
    PORTA_TUNING_FIELD(Params, attention.decode_min_chunk, 1, 1 << 20),
    PORTA_TUNING_FIELD(Params, attention.decode_items, 1, 1 << 24),
    PORTA_TUNING_FIELD(Params, attention.decode_items_per_unit, 0, 1 << 16),
    PORTA_TUNING_FIELD(Params, attention.decode_grouped, 0, 1),
    PORTA_TUNING_FIELD(Params, attention.decode_span, 16, 1024),
    PORTA_TUNING_FIELD(Params, attention.decode_prefetch, 0, 1024),
    PORTA_TUNING_FIELD(Params, attention.decode_prefetch_l2, 0, 1),
    PORTA_TUNING_FIELD(Params, memory.huge_host_min, 0, 1 << 30),
};
// Every field of a row has a text form: a member added without a kTuningFields entry fails here.
static_assert(sizeof(TuningParams) == sizeof(kTuningFields) / sizeof(kTuningFields[0]) * sizeof(int),
              "TuningParams has a field missing from kTuningFields (or one that is not int)");

tuning::DeviceKey device_key(const std::string& vendor, bool is_cpu, int pref_vec_float,
                             const std::string& name) {
  tuning::DeviceKey k;
  const std::string v = lower(vendor);
  k.vendor = v.find("nvidia") != std::string::npos                                                 ? "nvidia"
             : v.find("advanced micro") != std::string::npos || v.find("amd") != std::string::npos ? "amd"
             : v.find("intel") != std::string::npos                                                ? "intel"
             : v.find("pocl") != std::string::npos || v.find("portable computing") != std::string::npos
                 ? "pocl"
                 : v;
  k.cls = !is_cpu ? "gpu" : pref_vec_float >= 16 ? "cpu-vec16" : "cpu-vec8";
  k.name = name;
  return k;
}

DeviceTuning tuning_for(bool is_cpu, int compute_units, int pref_vec_float, const std::string& vendor,
                        const std::string& name) {
  const tuning::Row<TuningParams>& r =
      tuning::select_row(kTuningTable, device_key(vendor, is_cpu, pref_vec_float, name));
  DeviceTuning t;
  static_cast<TuningParams&>(t) = r.params;
  t.row_id = r.id;
  t.cls = is_cpu ? DeviceClass::cpu : DeviceClass::gpu;
  t.attention.decode_items =
      std::max(t.attention.decode_items, t.attention.decode_items_per_unit * compute_units);
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
