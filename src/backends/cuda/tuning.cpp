#include "backends/cuda/tuning.h"

#include "porta/error.h"

namespace porta::cuda {

using Params = TuningParams;

// One row until a part is measured: the defaults were chosen for A100/H100-class parts (108-132
// SMs, 164-228 KiB of shared memory per SM) and scale with the SM count the planners are given.
// A row for a measured part names its class ("sm90") or device name ("NVIDIA H20") and goes
// before the default (most specific wins); scripts/gpu-check.sh prints the row each device got.
constexpr tuning::Row<TuningParams> kTuningTable[1] = {
    {"default", nullptr, nullptr, nullptr, Params{}},
};

// clang-format off
constexpr tuning::Field<TuningParams> kTuningFields[20] = {
    PORTA_TUNING_FIELD(Params, gemm.gemv_max_m, 1, 16),
    PORTA_TUNING_FIELD(Params, gemm.splitk_min_k_tiles, 1, 1 << 20),
    PORTA_TUNING_FIELD(Params, gemm.splitk_max, 1, 64),
    PORTA_TUNING_FIELD(Params, gemm.gemv_blocks_per_sm, 1, 64),
    PORTA_TUNING_FIELD(Params, gemm.gemv_min_split_k, 256, 1 << 30),
    PORTA_TUNING_FIELD(Params, gemm.gemv_max_splits, 1, 64),
    PORTA_TUNING_FIELD(Params, attn.prefill_min_q, 1, 1 << 30),
    PORTA_TUNING_FIELD(Params, attn.simt_blocks_per_sm, 1, 64),
    PORTA_TUNING_FIELD(Params, attn.simt_min_tiles_per_split, 1, 1 << 20),
    PORTA_TUNING_FIELD(Params, attn.decode_blocks_per_sm, 1, 2),
    PORTA_TUNING_FIELD(Params, attn.decode_min_split_keys, 64, 1 << 30),
    PORTA_TUNING_FIELD(Params, attn.max_splits, 1, 1024),
    PORTA_TUNING_FIELD(Params, paged.max_rows, 1, 8),
    PORTA_TUNING_FIELD(Params, paged.ctas_per_sm, 1, 64),
    PORTA_TUNING_FIELD(Params, paged.min_split_keys, 16, int64_t{1} << 30),
    PORTA_TUNING_FIELD(Params, paged.max_splits, 1, 1024),
    PORTA_TUNING_FIELD(Params, paged.split_align, 16, 1 << 20),
    PORTA_TUNING_FIELD(Params, paged.partial_bytes, int64_t{1} << 20, int64_t{1} << 40),
    PORTA_TUNING_FIELD(Params, quant.gemv_max_m, 1, 16),
    PORTA_TUNING_FIELD(Params, quant.block_mib, 1, 1 << 16),
};
// clang-format on

// Every field of every struct in TuningParams has a text form (a field added to a struct
// without a kTuningFields entry changes the size without changing this count).
static_assert(sizeof(GemmTuning) == 6 * sizeof(int) && sizeof(AttnTuning) == 6 * sizeof(int) &&
                  sizeof(QuantTuning) == 2 * sizeof(int),
              "a tuning field was added or removed: list it in kTuningFields");
static_assert(sizeof(PagedTuning) == 32,
              "a paged tuning field was added or removed: list it in kTuningFields");

namespace {

// paged.split_align must keep the kernel's 16-key tiles whole.
void check_row(const Params& p, const std::string& env_name) {
  if (p.paged.split_align % 16 != 0)
    throw Error(Errc::invalid_argument, env_name +
                                            ": paged.split_align=" + std::to_string(p.paged.split_align) +
                                            " must be a multiple of 16 (the kernel's key tiles)");
}

}  // namespace

tuning::DeviceKey device_key(bool hip, int cc_major, int cc_minor, const std::string& name) {
  if (hip) return {"amd", "gfx", name};
  return {"nvidia", "sm" + std::to_string(cc_major) + std::to_string(cc_minor), name};
}

std::string tuning_text(const TuningParams& p) { return tuning::to_text(p, kTuningFields); }

Tuning tuning_for(const tuning::DeviceKey& key, const std::string& setting, const std::string& env_name) {
  Tuning t;
  if (setting.empty() || setting == "auto") {
    const auto& row = tuning::select_row(kTuningTable, key);
    static_cast<Params&>(t) = row.params;
    t.row = row.id;
    return t;
  }
  if (setting.find('=') == std::string::npos) {
    const auto* row = tuning::find_row(kTuningTable, setting);
    if (!row) {
      std::string ids;
      for (const auto& r : kTuningTable) ids += std::string(ids.empty() ? "" : ", ") + r.id;
      throw Error(Errc::invalid_argument, env_name + "='" + setting + "' names no tuning row (rows: " + ids +
                                              "; or name=value items over the device's row, or auto)");
    }
    static_cast<Params&>(t) = row->params;
    t.row = std::string(row->id) + " (" + env_name + ")";
    return t;
  }
  const auto& row = tuning::select_row(kTuningTable, key);
  static_cast<Params&>(t) = tuning::from_text(setting, kTuningFields, row.params, env_name);
  check_row(t, env_name);
  t.row = std::string(row.id) + " + " + env_name;
  return t;
}

}  // namespace porta::cuda
