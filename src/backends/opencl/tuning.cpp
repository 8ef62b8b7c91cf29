#include "backends/opencl/tuning.h"

#include <algorithm>

namespace porta::opencl {

DeviceTuning tuning_for(bool is_cpu, int compute_units, const std::string& vendor) {
  (void)vendor;  // room for per-vendor rows once measured on real hardware
  DeviceTuning t;
  if (is_cpu) {
    t.cls = DeviceClass::cpu;
    // 6x16 C tile per work-item = 12 AVX2 accumulators; one work-item per group keeps PoCL
    // from splitting the kernel into per-work-item loops, the groups spread over the cores.
    t.gemm.tile_m = 6;
    t.gemm.vec_n = 8;
    t.gemm.vecs_n = 2;
    t.gemm.wg_n = 1;
    t.gemm.wg_m = 1;
    t.gemm.small_m_max = 8;
    t.gemm.small_m_rows = 4;
    t.gemm.small_m_vec = 8;
    t.row.wg = 1;
    t.attention.decode_chunk = 256;
    t.attention.target_items = std::max(8, 8 * compute_units);
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
    t.attention.decode_chunk = 128;
    t.attention.target_items = std::max(4096, 256 * compute_units);
  }
  return t;
}

}  // namespace porta::opencl
