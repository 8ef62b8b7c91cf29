// Kernel parameters per device (CLBlast-style: data, not code): one table of named-field rows
// (tuning.cpp) keyed by vendor, device class and device name. The values become -D defines of
// the kernels. Classes are coarse on purpose: a CPU device (PoCL, Intel CPU runtime) wants a
// few large register tiles per work-item and no local memory, a GPU wants many work-items
// sharing tiles through local memory.
#pragma once

#include <string>

#include "core/tuning_table.h"

namespace porta::opencl {

enum class DeviceClass { cpu, gpu };

struct GemmParams {
  int tile_m = 4;        // rows of C per work-item
  int vec_n = 4;         // vector width along N (1, 2, 4, 8, 16)
  int vecs_n = 2;        // vectors per work-item along N (columns per work-item = vec_n * vecs_n)
  int wg_n = 8;          // work-items per group along N
  int wg_m = 8;          // ... along M
  int k_block = 0;       // K depth between work-group barriers (0 = none): keeps A/B blocks in cache on CPUs
  int small_m_max = 8;   // M at or below this runs the GEMV/small-M kernel when B is K-contiguous
  int small_m_rows = 4;  // rows per work-item in the small-M kernel
  int small_m_vec = 8;   // vector width along K in the small-M kernel
};

struct RowParams {
  int wg = 64;  // work-items per row in the row kernels (norm, softmax, argmax)
};

// attention_prefill.cl / attention_decode.cl. Defaults are the GPU row (FlashAttention-2 shape).
struct AttentionParams {
  int prefill_rows = 1;        // query rows per work-item, the lanes of one vector (1, 4, 8, 16)
  int prefill_wg = 64;         // work-items per group: a query block is prefill_wg * prefill_rows rows
  int prefill_keys = 32;       // keys per K/V tile staged in local memory (fewer when D is large)
  int fixed_head_dim = 1;      // 1: one program per head dim, so rows of q and o can live in registers
  int decode_max_rows = 16;    // query rows per KV head ((Hq / Hkv) * Sq) up to which decode runs (<= 16)
  int decode_vec = 4;          // vector width along the head dim in decode (4, 8, 16)
  int decode_wg = 64;          // work-items per group in decode (each one a (batch, KV head, split))
  int decode_min_chunk = 256;  // fewest keys per KV split
  // (batch, KV head, split) work-items wanted in flight: at least decode_items, and
  // decode_items_per_unit per compute unit (tuning_for folds both into decode_items).
  int decode_items = 4096;
  int decode_items_per_unit = 256;
  // 1: attention_decode_grouped (CPU devices): head dim fixed per program, K/V converted in
  // registers from the cache, each K/V vector feeding four rows; needs decode_vec 8 or 16.
  int decode_grouped = 0;
  int decode_span = 256;    // grouped decode: keys per span (K pass, softmax, V pass), a multiple of 16
  int decode_prefetch = 0;  // grouped decode: software prefetch of K/V rows this many keys ahead (0: none)
  // grouped decode, 1: a span's V rows are prefetched into L2 during its K pass and the next
  // span's K rows during its V pass (contiguous caches; paged decode ignores it).
  int decode_prefetch_l2 = 0;
};

// quant.cl (quantized weights). Defaults are the GPU row.
struct QuantParams {
  int gemv_split = 64;  // work-items sharing one output column of the GEMV (K split, local reduction)
  int gemv_local = 64;  // work-group size of the GEMV (a multiple of gemv_split)
  int gemv_unit = 32;   // most elements a work-item takes at once; its scale multiplies the unit's sum once
  int gemv_vec = 8;     // elements per decode step and vector width of the partial sums (8 or 16)
  int block_bytes = 64 << 20;  // M > 16: f32 scratch for one dequantized block of weight rows
};

// Where buffers live (buffer_pool.h).
struct MemoryParams {
  // Buffers of at least this many bytes are porta-owned host memory on 2 MiB transparent huge
  // pages (CL_MEM_USE_HOST_PTR), on devices with host-unified memory; 0: the driver allocates.
  int huge_host_min = 0;
};

/// One row of the table: every value a launcher reads. Every field is listed in kTuningFields
/// (tuning.cpp checks the count), so each has a text form.
struct TuningParams {
  GemmParams gemm;
  QuantParams quant;
  RowParams row;
  AttentionParams attention;
  MemoryParams memory;
};

/// The selected row for one device.
struct DeviceTuning : TuningParams {
  DeviceClass cls = DeviceClass::gpu;
  const char* row_id = "";  // the id of the row that matched
};

extern const tuning::Row<TuningParams> kTuningTable[3];
extern const tuning::Field<TuningParams> kTuningFields[30];

/// The lookup key: vendor token from CL_DEVICE_VENDOR ("nvidia", "amd", "intel", "pocl", ... or
/// the vendor string in lower case), class "cpu-vec16" (CPU device preferring 16-float vectors:
/// AVX-512), "cpu-vec8" (narrower CPU vectors) or "gpu" (any other device), the device name.
tuning::DeviceKey device_key(const std::string& vendor, bool is_cpu, int pref_vec_float,
                             const std::string& name);

/// The table lookup: `is_cpu` from CL_DEVICE_TYPE (or PORTA_OPENCL_DEVICE_CLASS), `compute_units`
/// scales the parallelism targets, `pref_vec_float` (CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT)
/// picks the CPU row.
DeviceTuning tuning_for(bool is_cpu, int compute_units, int pref_vec_float, const std::string& vendor,
                        const std::string& name = "");

/// The compute-unit count PORTA_DETERMINISTIC plans split-K / split-KV with, on any device.
constexpr int kDeterministicPartitionUnits = 16;

/// Applies PORTA_OPENCL_GEMM_TILE="TM,VN,NV[,WG_M,WG_N]" (tile rows, vector width, vectors per
/// work-item, work-group shape) over the table's values. Throws Error(invalid_argument) when
/// malformed or out of range (TM 1..8, VN 2/4/8/16, NV 1..4).
void apply_gemm_tile_override(GemmParams& p, const std::string& spec);

}  // namespace porta::opencl
