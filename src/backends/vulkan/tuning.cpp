#include "backends/vulkan/tuning.h"

#include "porta/error.h"

namespace porta::vk {

Tuning tuning_for(uint32_t vendor_id, bool cpu_device, uint32_t max_shared, uint32_t max_invocations,
                  const std::string& row) {
  if (row == "cpu") cpu_device = true;
  if (row == "nvidia" || row == "amd" || row == "default") {
    cpu_device = false;
    vendor_id = row == "nvidia" ? 0x10de : row == "amd" ? 0x1002 : 0;
  } else if (!row.empty() && row != "auto" && row != "cpu") {
    throw Error(Errc::invalid_argument,
                "vulkan: PORTA_VULKAN_TUNING='" + row + "' is not one of auto, cpu, nvidia, amd, default");
  }
  Tuning t;
  if (cpu_device) {
    // llvmpipe runs a workgroup as SIMD lanes of one thread: big register tiles, no
    // shared memory (its barriers and local arrays cost more than they save).
    t.row = "cpu-device (llvmpipe/lavapipe)";
    t.gemm = {8, 8, 8, 8, 8, 0};
    t.small_m_max = 16;
    t.splitk_max_tiles = 0;  // split-K buys nothing on a CPU
    // 8 invocations (one SIMD row of lanes) per column, whole 128-element groups per step.
    t.quant = {8, 128, 32u << 20};
    // One SIMD row of lanes per workgroup; 32+ workgroups keep every core busy at batch 1.
    t.attn_decode.lanes = 8;
    t.attn_decode.chunk = 256;
    t.attn_decode.min_groups = 32;
    return t;
  }
  switch (vendor_id) {
    case 0x10de:  // NVIDIA
      t.row = "nvidia";
      t.gemm = {16, 16, 8, 8, 16, 1};
      break;
    case 0x1002:  // AMD
      t.row = "amd";
      t.gemm = {16, 16, 8, 8, 16, 1};
      break;
    default:  // Moore Threads (0x1ed5) and others until measured: a moderate tile
      t.row = "default";
      t.gemm = {16, 16, 4, 4, 16, 1};
      break;
  }
  // Shared tiles are (BM + BN) x BK floats; shrink the register tile if they do not fit.
  auto shared_bytes = [&] { return (t.gemm.block_m() + t.gemm.block_n()) * t.gemm.block_k * 4; };
  while (shared_bytes() > max_shared && t.gemm.thread_m > 1) t.gemm.thread_m /= 2, t.gemm.thread_n /= 2;
  while (t.gemm.wg_x * t.gemm.wg_y > max_invocations && t.gemm.wg_y > 1) t.gemm.wg_y /= 2;
  return t;
}

}  // namespace porta::vk
