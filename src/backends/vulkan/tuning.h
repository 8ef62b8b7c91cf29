// Kernel parameters per device, as data: one table of named-field rows (tuning.cpp) keyed by
// vendor, device class and device name, fed to the shaders as specialization constants.
// lavapipe favours large register tiles without shared memory; real GPUs want shared-memory tiles.
#pragma once

#include <cstdint>
#include <string>

#include "core/tuning_table.h"

namespace porta::vk {

struct GemmTiling {
  uint32_t wg_x = 16, wg_y = 16;        // invocations per workgroup (N, M directions)
  uint32_t thread_m = 4, thread_n = 4;  // register tile per invocation
  uint32_t block_k = 16;                // K step staged in shared memory
  uint32_t use_shared = 1;              // 0: each invocation reads A/B directly (CPU-like devices)
  uint32_t block_m() const { return wg_y * thread_m; }
  uint32_t block_n() const { return wg_x * thread_n; }
};

// quant_gemv.comp (quantized weights, small M); quant.cpp's blocked path for larger M.
struct QuantTiling {
  uint32_t gemv_split = 16;  // invocations sharing one output column (64 / split columns per workgroup)
  uint32_t gemv_unit = 32;   // most elements an invocation takes at once; one scale multiply per unit
  uint32_t gemv_cols =
      1;  // adjacent output columns per invocation (1-4): one activation load serves them all
  uint32_t block_bytes = 32u << 20;  // M > 16: f32 scratch for one dequantized block of weight rows
};

// attention_decode_grouped.comp: split-KV attention (decode and prefill) with one subgroup per
// (batch, KV head, query block, KV split) sharing each K/V row across the GQA group and the
// query block (attention.cpp falls back to attention_decode / attention_prefill).
struct AttnDecodeTiling {
  uint32_t lanes = 0;       // invocations per workgroup, at most the subgroup size; 0: not used
  uint32_t chunk = 256;     // most KV positions per split (fewer where the loop budget requires)
  uint32_t min_groups = 0;  // split the KV range further until the grid has this many workgroups
  uint32_t max_rows = 16;   // most query rows (heads x queries) per workgroup
  uint32_t max_tile = 64;   // most vec4 registers per invocation for each of query and output
                            // (rows x dims / lanes / 4); larger tiles spill and compile slowly
};

/// One row of the table: every value a launcher reads. Every field is listed in kTuningFields
/// (tuning.cpp checks the count), so each has a text form.
struct TuningParams {
  GemmTiling gemm;
  QuantTiling quant;
  uint32_t small_m_max = 16;         // M at or below this takes the GEMV-like path
  uint32_t splitk_min_k = 2048;      // split-K only when K is at least this ...
  uint32_t splitk_max_tiles = 32;    // ... and C has at most this many workgroup tiles
  uint32_t attn_decode_chunk = 256;  // KV positions per split in decode attention
  AttnDecodeTiling attn_decode;      // default (GPU rows): off
};

/// The selected row, fitted to the device's limits.
struct Tuning : TuningParams {
  std::string row;  // the id of the row that matched, for porta-info and logs
};

extern const tuning::Row<TuningParams> kTuningTable[4];
extern const tuning::Field<TuningParams> kTuningFields[19];

/// The lookup key: vendor token from the PCI vendor id ("nvidia", "amd", "mesa", ... or the id in
/// hex), class "cpu" for CPU devices (lavapipe) and "gpu" otherwise, the driver's device name.
tuning::DeviceKey device_key(uint32_t vendor_id, bool cpu_device, const std::string& name);

/// The table row for a device, shared-memory tiles shrunk to `max_shared` bytes and workgroups
/// to `max_invocations`. `setting` (PORTA_VULKAN_TUNING) is "auto" or empty (the row by device),
/// a row id ("cpu", "nvidia", "amd", "default": the GPU kernels' paths can be exercised on a
/// software device), or `field=value` items applied over the device's row (tuning a new GPU
/// without a rebuild; names and ranges from kTuningFields). Throws Error(invalid_argument)
/// naming PORTA_VULKAN_TUNING for anything else (check_tuning_setting).
Tuning tuning_for(const tuning::DeviceKey& key, uint32_t max_shared, uint32_t max_invocations,
                  const std::string& setting = "auto");

/// Throws Error(invalid_argument) naming PORTA_VULKAN_TUNING unless `setting` is valid for
/// tuning_for: checked once when the backend loads, before any device is opened.
void check_tuning_setting(const std::string& setting);

/// Every field of a row as `name=value` items (porta-info; the form PORTA_VULKAN_TUNING takes).
std::string tuning_text(const TuningParams& p);

}  // namespace porta::vk
