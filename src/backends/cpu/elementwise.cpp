// Element-wise kernels: silu_mul, gelu, add, mul, scale (f32 math), cast and copy.
#include <cmath>
#include <cstring>

#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

constexpr int64_t kBlock = 256;  // elements converted to f32 at a time (stays in L1)

inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}
inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f)); }
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

void apply(Elementwise kind, float alpha, const float* a, const float* b, float* out, int64_t n) {
  switch (kind) {
    case Elementwise::silu_mul:
      for (int64_t i = 0; i < n; ++i) out[i] = silu(a[i]) * b[i];
      break;
    case Elementwise::gelu_tanh:
      for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh(a[i]);
      break;
    case Elementwise::gelu_erf:
      for (int64_t i = 0; i < n; ++i) out[i] = gelu_erf(a[i]);
      break;
    case Elementwise::add:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
      break;
    case Elementwise::mul:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
      break;
    case Elementwise::scale:
      for (int64_t i = 0; i < n; ++i) out[i] = alpha * a[i];
      break;
    default: break;
  }
}

bool is_binary(Elementwise k) {
  return k == Elementwise::silu_mul || k == Elementwise::add || k == Elementwise::mul;
}

void float_op(ThreadPool& pool, const ElementwiseArgs& e) {
  const bool binary = is_binary(e.kind);
  for_each_row_chunk(pool, e.out, [&](int64_t row, int64_t c0, int64_t c1) {
    alignas(64) float a[kBlock], b[kBlock], o[kBlock];
    const int64_t sa = row_stride(e.a), so = row_stride(e.out);
    const int64_t sb = binary ? row_stride(e.b) : 0;
    const int64_t ea = dtype_size(e.a.dtype), eo = dtype_size(e.out.dtype);
    const int64_t eb = binary ? dtype_size(e.b.dtype) : 0;
    const char* pa = row_ptr(e.a, row) + c0 * sa * ea;
    const char* pb = binary ? row_ptr(e.b, row) + c0 * sb * eb : nullptr;
    char* po = row_ptr(e.out, row) + c0 * so * eo;
    for (int64_t c = c0; c < c1; c += kBlock) {
      const int64_t n = std::min(kBlock, c1 - c);
      load_row(e.a.dtype, pa, sa, n, a);
      if (binary) load_row(e.b.dtype, pb, sb, n, b);
      apply(e.kind, e.alpha, a, b, o, n);
      store_row(e.out.dtype, po, so, n, o);
      pa += n * sa * ea;
      if (binary) pb += n * sb * eb;
      po += n * so * eo;
    }
  });
}

void copy_op(ThreadPool& pool, const ElementwiseArgs& e) {
  const int64_t es = dtype_size(e.out.dtype);
  for_each_row_chunk(pool, e.out, [&](int64_t row, int64_t c0, int64_t c1) {
    const int64_t sa = row_stride(e.a), so = row_stride(e.out);
    const char* pa = row_ptr(e.a, row) + c0 * sa * es;
    char* po = row_ptr(e.out, row) + c0 * so * es;
    const int64_t n = c1 - c0;
    if (sa == 1 && so == 1) {
      if (pa != po) std::memmove(po, pa, static_cast<size_t>(n * es));
      return;
    }
    for (int64_t i = 0; i < n; ++i) std::memcpy(po + i * so * es, pa + i * sa * es, static_cast<size_t>(es));
  });
}

void cast_op(ThreadPool& pool, const ElementwiseArgs& e) {
  if (e.a.dtype == e.out.dtype) return copy_op(pool, e);
  const int64_t ea = dtype_size(e.a.dtype), eo = dtype_size(e.out.dtype);
  for_each_row_chunk(pool, e.out, [&](int64_t row, int64_t c0, int64_t c1) {
    const int64_t sa = row_stride(e.a), so = row_stride(e.out);
    const char* pa = row_ptr(e.a, row) + c0 * sa * ea;
    char* po = row_ptr(e.out, row) + c0 * so * eo;
    for (int64_t i = 0; i < c1 - c0; ++i)
      store_from_double(e.out.dtype, po, static_cast<size_t>(i * so),
                        load_as_double(e.a.dtype, pa, static_cast<size_t>(i * sa)));
  });
}

}  // namespace

void elementwise(ThreadPool& pool, const ElementwiseArgs& e) {
  switch (e.kind) {
    case Elementwise::copy: return copy_op(pool, e);
    case Elementwise::cast: return cast_op(pool, e);
    default: return float_op(pool, e);
  }
}

}  // namespace porta::cpu
