#include "comm/mpi/host_reduce.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "porta/error.h"

namespace porta::comm {
namespace {

// max that keeps a NaN from either side, so every rank sees the same NaN.
inline float fmax_nan(float a, float b) { return (a > b || std::isnan(a)) ? a : b; }

template <typename T, typename Op>
void fold(const char* parts, size_t stride, int n, T* out, size_t count, Op op) {
  const T* first = reinterpret_cast<const T*>(parts);
  if (out != first) std::memcpy(out, first, count * sizeof(T));
  for (int r = 1; r < n; ++r) {
    const T* p = reinterpret_cast<const T*>(parts + static_cast<size_t>(r) * stride);
    for (size_t i = 0; i < count; ++i) out[i] = op(out[i], p[i]);
  }
}

// f16/bf16: blocks of f32 accumulators, one rounding at the end.
template <float (*Load)(uint16_t), uint16_t (*Store)(float)>
void fold_half(const char* parts, size_t stride, int n, uint16_t* out, size_t count, bool is_max) {
  constexpr size_t kBlock = 512;
  float acc[kBlock];
  for (size_t b = 0; b < count; b += kBlock) {
    const size_t m = std::min(kBlock, count - b);
    const uint16_t* p0 = reinterpret_cast<const uint16_t*>(parts) + b;
    for (size_t i = 0; i < m; ++i) acc[i] = Load(p0[i]);
    for (int r = 1; r < n; ++r) {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(parts + static_cast<size_t>(r) * stride) + b;
      if (is_max) {
        for (size_t i = 0; i < m; ++i) acc[i] = fmax_nan(acc[i], Load(p[i]));
      } else {
        for (size_t i = 0; i < m; ++i) acc[i] += Load(p[i]);
      }
    }
    for (size_t i = 0; i < m; ++i) out[b + i] = Store(acc[i]);
  }
}

}  // namespace

void reduce_in_rank_order(const char* parts, size_t stride, int n, void* out, size_t count, DType t, ReduceOp op) {
  const bool is_max = op == ReduceOp::max;
  switch (t) {
    case DType::f32:
      if (is_max)
        fold<float>(parts, stride, n, static_cast<float*>(out), count, fmax_nan);
      else
        fold<float>(parts, stride, n, static_cast<float*>(out), count, [](float a, float b) { return a + b; });
      return;
    case DType::i32:
      if (is_max)
        fold<int32_t>(parts, stride, n, static_cast<int32_t*>(out), count,
                      [](int32_t a, int32_t b) { return std::max(a, b); });
      else  // two's-complement wrap, without signed-overflow UB
        fold<int32_t>(parts, stride, n, static_cast<int32_t*>(out), count, [](int32_t a, int32_t b) {
          return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
        });
      return;
    case DType::f16:
      fold_half<f16_to_float, float_to_f16>(parts, stride, n, static_cast<uint16_t*>(out), count, is_max);
      return;
    case DType::bf16:
      fold_half<bf16_to_float, float_to_bf16>(parts, stride, n, static_cast<uint16_t*>(out), count, is_max);
      return;
    default: break;
  }
  throw Error(Errc::dtype_mismatch, std::string("reduce: ") + dtype_name(t) + " cannot be reduced");
}

}  // namespace porta::comm
