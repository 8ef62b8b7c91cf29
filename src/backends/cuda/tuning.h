// The CUDA/HIP planners' parameters as data: one table of named-field rows (tuning.cpp) keyed
// by vendor, device class and device name (core/tuning_table.h), read by plan_gemm,
// plan_attention, plan_paged_attention and the quantized GEMM launcher. What the compiled
// kernels fix (tiles, threads, register budgets) is not here: those are compile-time constants
// checked with static_assert against gemm_tiles.h and the planners' mirrors; these rows choose
// among compiled kernels and cut the work (thresholds, split targets, workspace budgets).
#pragma once

#include <cstdint>
#include <string>

#include "backends/cuda/tuning_params.h"
#include "core/tuning_table.h"

namespace porta::cuda {

/// One row of the table: every value a planner reads. Every field is listed in kTuningFields
/// (tuning.cpp checks the count), so each has a text form.
struct TuningParams {
  GemmTuning gemm;
  AttnTuning attn;
  PagedTuning paged;
  QuantTuning quant;
};

/// The selected row for one device (with PORTA_CUDA_TUNING applied).
struct Tuning : TuningParams {
  std::string row;  // the id of the row that matched, plus " (PORTA_CUDA_TUNING)" when overridden
};

extern const tuning::Row<TuningParams> kTuningTable[1];
extern const tuning::Field<TuningParams> kTuningFields[20];

/// The lookup key: vendor "nvidia" (or "amd" for the hip module), class "sm<major><minor>"
/// ("sm80", "sm90", ...; "gfx" for hip, whose compute capability is not NVIDIA's), the
/// device name as the runtime reports it.
tuning::DeviceKey device_key(bool hip, int cc_major, int cc_minor, const std::string& name);

/// The row for a device. `setting` (PORTA_CUDA_TUNING / PORTA_HIP_TUNING) is empty or "auto"
/// (the table decides), a row id, or `name=value ...` items applied over the device's row
/// (the text form, for tuning on a new part without a rebuild). Throws Error(invalid_argument)
/// naming `env_name` for an unknown row id, field or value.
Tuning tuning_for(const tuning::DeviceKey& key, const std::string& setting, const std::string& env_name);

/// `name=value` for every field of a row.
std::string tuning_text(const TuningParams& p);

}  // namespace porta::cuda
