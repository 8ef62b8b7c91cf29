#include "backends/vulkan/tuning.h"

#include <cstdio>

#include "porta/error.h"

namespace porta::vk {
namespace {

using Params = TuningParams;

// llvmpipe runs a workgroup as SIMD lanes of one thread: big register tiles, no shared memory
// (its barriers and local arrays cost more than they save).
constexpr Params cpu_row() {
  Params p;
  p.gemm.wg_x = 8;
  p.gemm.wg_y = 8;
  p.gemm.thread_m = 8;
  p.gemm.thread_n = 8;
  p.gemm.block_k = 8;
  p.gemm.use_shared = 0;
  p.small_m_max = 16;
  p.splitk_min_k = 2048;
  p.splitk_max_tiles = 0;  // split-K buys nothing on a CPU
  p.attn_decode_chunk = 256;
  // 8 invocations (one SIMD row of lanes) per block of 4 columns, whole 128-element groups per
  // step: llvmpipe gathers every load lane by lane, so sharing each activation load across 4
  // columns (as the dense GEMV does) is what makes 4-bit weights pay off.
  p.quant.gemv_split = 8;
  p.quant.gemv_unit = 128;
  p.quant.gemv_cols = 4;
  p.quant.block_bytes = 32u << 20;
  // Grouped split-KV attention: one SIMD row of lanes per workgroup; 32+ workgroups keep every
  // core busy at batch 1.
  p.attn_decode.lanes = 8;
  p.attn_decode.chunk = 256;
  p.attn_decode.min_groups = 32;
  p.attn_decode.max_rows = 16;
  p.attn_decode.max_tile = 64;
  return p;
}

// Shared-memory tiles; `reg` is the register tile per invocation (reg x reg).
constexpr Params gpu_row(uint32_t reg) {
  Params p;
  p.gemm.wg_x = 16;
  p.gemm.wg_y = 16;
  p.gemm.thread_m = reg;
  p.gemm.thread_n = reg;
  p.gemm.block_k = 16;
  p.gemm.use_shared = 1;
  p.small_m_max = 16;
  p.splitk_min_k = 2048;
  p.splitk_max_tiles = 32;
  p.attn_decode_chunk = 256;
  p.quant.gemv_split = 16;
  p.quant.gemv_unit = 32;
  p.quant.gemv_cols = 1;
  p.quant.block_bytes = 32u << 20;
  p.attn_decode.lanes = 0;  // grouped split-KV attention off: attention_decode / attention_prefill
  p.attn_decode.chunk = 256;
  p.attn_decode.min_groups = 0;
  p.attn_decode.max_rows = 16;
  p.attn_decode.max_tile = 64;
  return p;
}

}  // namespace

// Most specific row wins (core/tuning_table.h): a CPU device takes the cpu row whatever its vendor.
constexpr tuning::Row<TuningParams> kTuningTable[4] = {
    {"cpu", nullptr, "cpu", nullptr, cpu_row()},
    {"nvidia", "nvidia", nullptr, nullptr, gpu_row(8)},
    {"amd", "amd", nullptr, nullptr, gpu_row(8)},
    // Moore Threads (0x1ed5) and others until measured: a moderate tile.
    {"default", nullptr, nullptr, nullptr, gpu_row(4)},
};

constexpr tuning::Field<TuningParams> kTuningFields[19] = {
    PORTA_TUNING_FIELD(Params, gemm.wg_x, 1, 1024),
    PORTA_TUNING_FIELD(Params, gemm.wg_y, 1, 1024),
    PORTA_TUNING_FIELD(Params, gemm.thread_m, 1, 16),
    PORTA_TUNING_FIELD(Params, gemm.thread_n, 1, 16),
    PORTA_TUNING_FIELD(Params, gemm.block_k, 1, 64),
    PORTA_TUNING_FIELD(Params, gemm.use_shared, 0, 1),
    PORTA_TUNING_FIELD(Params, quant.gemv_split, 1, 64),
    PORTA_TUNING_FIELD(Params, quant.gemv_unit, 8, 1024),
    PORTA_TUNING_FIELD(Params, quant.gemv_cols, 1, 4),
    PORTA_TUNING_FIELD(Params, quant.block_bytes, 1 << 20, 1ll << 31),
    PORTA_TUNING_FIELD(Params, small_m_max, 0, 32),  // gemm_small_m.comp: SM rows of accumulators
    PORTA_TUNING_FIELD(Params, splitk_min_k, 1, 1 << 30),
    PORTA_TUNING_FIELD(Params, splitk_max_tiles, 0, 1 << 20),
    PORTA_TUNING_FIELD(Params, attn_decode_chunk, 1, 1 << 20),
    PORTA_TUNING_FIELD(Params, attn_decode.lanes, 0, 128),
    PORTA_TUNING_FIELD(Params, attn_decode.chunk, 1, 1 << 20),
    PORTA_TUNING_FIELD(Params, attn_decode.min_groups, 0, 1 << 20),
    PORTA_TUNING_FIELD(Params, attn_decode.max_rows, 1, 64),
    PORTA_TUNING_FIELD(Params, attn_decode.max_tile, 1, 256),
};
// Every field of a row has a text form: a member added without a kTuningFields entry fails here.
static_assert(sizeof(TuningParams) == sizeof(kTuningFields) / sizeof(kTuningFields[0]) * sizeof(uint32_t),
              "TuningParams has a field missing from kTuningFields (or one that is not uint32_t)");

tuning::DeviceKey device_key(uint32_t vendor_id, bool cpu_device, const std::string& name) {
  tuning::DeviceKey k;
  switch (vendor_id) {
    case 0x10de: k.vendor = "nvidia"; break;
    case 0x1002: k.vendor = "amd"; break;
    case 0x8086: k.vendor = "intel"; break;
    case 0x1ed5: k.vendor = "moore-threads"; break;
    case 0x10005: k.vendor = "mesa"; break;  // VK_VENDOR_ID_MESA (lavapipe)
    default: {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%x", vendor_id);
      k.vendor = hex;
    }
  }
  k.cls = cpu_device ? "cpu" : "gpu";
  k.name = name;
  return k;
}

namespace {

constexpr const char* kSettingName = "vulkan: PORTA_VULKAN_TUNING";

bool power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// What the shaders assume beyond each field's range (the table's rows all satisfy it).
void check_params(const Params& p) {
  auto fail = [](const std::string& item, const char* why) {
    throw Error(Errc::invalid_argument, std::string(kSettingName) + ": " + item + " " + why);
  };
  if (!power_of_two(p.quant.gemv_split))
    fail("quant.gemv_split=" + std::to_string(p.quant.gemv_split),
         "must be a power of two (a workgroup's 64 invocations split evenly over its columns)");
  if (!power_of_two(p.quant.gemv_unit))
    fail("quant.gemv_unit=" + std::to_string(p.quant.gemv_unit),
         "must be a power of two (a unit may not straddle a quantization group of 32, 64 or 128)");
}

Params params_of(const tuning::DeviceKey* key, const std::string& setting) {
  const auto& by_device =
      key ? tuning::select_row(kTuningTable, *key) : *tuning::find_row(kTuningTable, "default");
  if (setting.empty() || setting == "auto") return by_device.params;
  if (setting.find('=') == std::string::npos) {
    const auto* r = tuning::find_row(kTuningTable, setting);
    if (!r) {
      std::string ids;
      for (const auto& row : kTuningTable) ids += std::string(", ") + row.id;
      throw Error(Errc::invalid_argument, std::string(kSettingName) + "='" + setting +
                                              "' is not one of auto" + ids +
                                              ", nor name=value items over the device's row");
    }
    return r->params;
  }
  Params p = tuning::from_text(setting, kTuningFields, by_device.params, kSettingName);
  check_params(p);
  return p;
}

}  // namespace

void check_tuning_setting(const std::string& setting) { (void)params_of(nullptr, setting); }

std::string tuning_text(const TuningParams& p) { return tuning::to_text(p, kTuningFields); }

Tuning tuning_for(const tuning::DeviceKey& key, uint32_t max_shared, uint32_t max_invocations,
                  const std::string& setting) {
  Tuning t;
  static_cast<TuningParams&>(t) = params_of(&key, setting);
  const auto& by_device = tuning::select_row(kTuningTable, key);
  if (setting.empty() || setting == "auto")
    t.row = by_device.id;
  else if (setting.find('=') == std::string::npos)
    t.row = setting;
  else
    t.row = std::string(by_device.id) + " + PORTA_VULKAN_TUNING '" + setting + "'";
  if (!t.gemm.use_shared) return t;
  // Shared tiles are (BM + BN) x BK floats; shrink the register tile if they do not fit.
  auto shared_bytes = [&] { return (t.gemm.block_m() + t.gemm.block_n()) * t.gemm.block_k * 4; };
  while (shared_bytes() > max_shared && t.gemm.thread_m > 1) t.gemm.thread_m /= 2, t.gemm.thread_n /= 2;
  while (t.gemm.wg_x * t.gemm.wg_y > max_invocations && t.gemm.wg_y > 1) t.gemm.wg_y /= 2;
  return t;
}

}  // namespace porta::vk
