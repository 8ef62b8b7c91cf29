#include "backends/cuda/quant_plan.h"

#include <cstdint>

namespace porta::cuda {
namespace {

bool nibbles(int32_t format) { return format == 1 || format == 2; }  // int4, int4_zp

}  // namespace

bool quant_dequant_vec(const QuantDequantDesc& d) {
  const QWDesc& w = d.w;
  const int64_t out_bytes = d.out_dt == kF32 ? 4 : 2, code_bytes = nibbles(w.format) ? 4 : 8;
  // `unpermute` scatters columns only when the weight has a permutation: the M > 16 gemm path
  // sets it on every call, and testing the flag alone kept every weight block off this path.
  const bool scatter = d.unpermute && w.perm != nullptr;
  return !scatter && d.out_cs == 1 && reinterpret_cast<uintptr_t>(d.out) % 16 == 0 &&
         (d.out_rs * out_bytes) % 16 == 0 && reinterpret_cast<uintptr_t>(w.codes) % code_bytes == 0 &&
         w.code_rs % code_bytes == 0 && (w.group % 8 == 0 || w.group >= w.k);
}

bool quant_gemv_vec(const QWDesc& w) {
  const int64_t per_load = nibbles(w.format) ? 32 : 16;
  // w.group is k for per-channel and per-tensor weights (weight_desc), so one test covers all.
  return reinterpret_cast<uintptr_t>(w.codes) % 16 == 0 && w.code_rs % 16 == 0 && w.k % per_load == 0 &&
         w.group % per_load == 0;
}

}  // namespace porta::cuda
