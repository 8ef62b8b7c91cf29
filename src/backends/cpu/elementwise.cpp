// Element-wise kernels: silu_mul, gelu, add, mul, scale (f32 math), cast and copy.
// Dims that every operand walks as one are merged first, so contiguous tensors (and
// row-broadcast ones) become long rows. Float kinds run over blocks of kBlock elements
// through f32: a contiguous f32 operand is used in place, others are converted (vectorised
// for contiguous f16/bf16).
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/row_kernels.h"
#include "backends/cpu/strided_rows.h"

namespace porta::cpu {
namespace {

constexpr int64_t kBlock = 512;  // elements per step: the f32 blocks stay in L1

bool is_binary(Elementwise k) {
  return k == Elementwise::silu_mul || k == Elementwise::add || k == Elementwise::mul;
}

void float_op(ThreadPool& pool, ElementwiseArgs e) {
  const bool binary = is_binary(e.kind);
  TensorArg* ts[3] = {&e.out, &e.a, &e.b};
  coalesce_dims(ts, binary ? 3 : 2);
  const RowKernels& k = row_kernels();
  const int64_t sa = row_stride(e.a), so = row_stride(e.out), sb = binary ? row_stride(e.b) : 0;
  const int64_t ea = elem_size(e.a), eo = elem_size(e.out), eb = binary ? elem_size(e.b) : 0;
  const bool out_direct = e.out.dtype == DType::f32 && so == 1;
  for_each_row_chunk(pool, e.out, [&](int64_t row, int64_t c0, int64_t c1) {
    alignas(64) float a[kBlock], b[kBlock], o[kBlock];
    const char* pa = row_ptr(e.a, row) + c0 * sa * ea;
    const char* pb = binary ? row_ptr(e.b, row) + c0 * sb * eb : nullptr;
    char* po = row_ptr(e.out, row) + c0 * so * eo;
    for (int64_t c = c0; c < c1; c += kBlock) {
      const int64_t n = std::min(kBlock, c1 - c);
      const float* va = f32_view(e.a.dtype, pa, sa, n, a);
      const float* vb = binary ? f32_view(e.b.dtype, pb, sb, n, b) : nullptr;
      float* vo = out_direct ? reinterpret_cast<float*>(po) : o;
      k.elementwise(e.kind, e.alpha, va, vb, vo, n);
      if (!out_direct) store_row(e.out.dtype, po, so, n, vo);
      pa += n * sa * ea;
      if (binary) pb += n * sb * eb;
      po += n * so * eo;
    }
  });
}

template <typename T>
void copy_strided(const char* src, int64_t ss, char* dst, int64_t ds, int64_t n) {
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
}

// Copy where out's rows are contiguous but a is read with unit stride along another dim t
// (a transposed view): 32x32 tiles keep both the lines read and the lines written in cache.
template <typename T>
void copy_transposed(ThreadPool& pool, const ElementwiseArgs& e, int t) {
  constexpr int64_t kTile = 32;
  const int r = e.out.rank;
  const int64_t nt = e.out.shape[t], nl = e.out.shape[r - 1];
  const int64_t sa_l = e.a.strides[r - 1], so_t = e.out.strides[t];
  // The remaining dims (at most two) enumerate independent 2-D slices.
  int other[2] = {-1, -1}, no = 0;
  for (int d = 0; d + 1 < r; ++d)
    if (d != t) other[no++] = d;
  const int64_t n0 = no > 0 ? e.out.shape[other[0]] : 1, n1 = no > 1 ? e.out.shape[other[1]] : 1;
  const int64_t bands = (nt + kTile - 1) / kTile;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(kTile * nl, 1));
  pool.parallel_for(n0 * n1 * bands, grain, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t band = u % bands, slice = u / bands;
      const int64_t i1 = slice % n1, i0 = slice / n1;
      int64_t off_a = 0, off_o = 0;
      if (no > 0) off_a += i0 * e.a.strides[other[0]], off_o += i0 * e.out.strides[other[0]];
      if (no > 1) off_a += i1 * e.a.strides[other[1]], off_o += i1 * e.out.strides[other[1]];
      const T* pa = e.a.host<T>() + off_a;
      T* po = e.out.host<T>() + off_o;
      const int64_t t0 = band * kTile, t1 = std::min(nt, t0 + kTile);
      for (int64_t l0 = 0; l0 < nl; l0 += kTile) {
        const int64_t l1 = std::min(nl, l0 + kTile);
        if (t1 - t0 == kTile && l1 - l0 == kTile) {
          // Full tile through a local block: power-of-two strides map every line of a tile to
          // one cache set, so each side is touched in one sweep.
          T tile[kTile][kTile];
          for (int64_t j = 0; j < kTile; ++j)
            for (int64_t i = 0; i < kTile; ++i) tile[i][j] = pa[t0 + i + (l0 + j) * sa_l];
          for (int64_t i = 0; i < kTile; ++i)
            for (int64_t j = 0; j < kTile; ++j) po[(t0 + i) * so_t + l0 + j] = tile[i][j];
          continue;
        }
        for (int64_t i = t0; i < t1; ++i)
          for (int64_t j = l0; j < l1; ++j) po[i * so_t + j] = pa[i + j * sa_l];
      }
    }
  });
}

void copy_op(ThreadPool& pool, ElementwiseArgs e) {
  TensorArg* ts[2] = {&e.out, &e.a};
  coalesce_dims(ts, 2);
  if (row_stride(e.out) == 1 && row_stride(e.a) != 1 && row_length(e.out) >= 8) {
    for (int d = 0; d + 1 < e.a.rank; ++d) {
      if (e.a.strides[d] != 1) continue;
      switch (elem_size(e.out)) {  // bit copies, so NaN payloads survive
        case 1: return copy_transposed<uint8_t>(pool, e, d);
        case 2: return copy_transposed<uint16_t>(pool, e, d);
        default: return copy_transposed<uint32_t>(pool, e, d);
      }
    }
  }
  const int64_t es = elem_size(e.out);
  const int64_t sa = row_stride(e.a), so = row_stride(e.out);
  for_each_row_chunk(pool, e.out, [&](int64_t row, int64_t c0, int64_t c1) {
    const char* pa = row_ptr(e.a, row) + c0 * sa * es;
    char* po = row_ptr(e.out, row) + c0 * so * es;
    const int64_t n = c1 - c0;
    if (pa == po && sa == so) return;  // in place: nothing to do
    if (sa == 1 && so == 1) {
      std::memcpy(po, pa, static_cast<size_t>(n * es));
      return;
    }
    switch (es) {  // bit copies, so NaN payloads survive
      case 1: copy_strided<uint8_t>(pa, sa, po, so, n); break;
      case 2: copy_strided<uint16_t>(pa, sa, po, so, n); break;
      default: copy_strided<uint32_t>(pa, sa, po, so, n); break;
    }
  });
}

// f32 to an integer dtype: round to nearest even, saturate, NaN -> 0 (as porta/dtype.h does).
template <typename I>
void store_int_row(const float* in, char* p, int64_t stride, int64_t n) {
  I* d = reinterpret_cast<I*>(p);
  constexpr float lo = static_cast<float>(std::numeric_limits<I>::min());
  constexpr float hi = static_cast<float>(std::numeric_limits<I>::max());
  for (int64_t i = 0; i < n; ++i) {
    const float v = std::nearbyint(in[i]);
    I r;
    if (std::isnan(v))
      r = 0;
    else if (v <= lo)
      r = std::numeric_limits<I>::min();
    else if (v >= hi)
      r = std::numeric_limits<I>::max();
    else
      r = static_cast<I>(v);
    d[i * stride] = r;
  }
}

// Any dtype to f32. i32 beyond 2^24 is rounded to nearest, or to odd when `to_odd` (the
// value then goes on to f16/bf16, which must see one rounding of the integer, not two).
void load_any_row(DType t, const char* p, int64_t stride, int64_t n, float* out, bool to_odd) {
  if (is_floating(t)) return load_row(t, p, stride, n, out);
  if (t == DType::i8) {
    for (int64_t i = 0; i < n; ++i) out[i] = reinterpret_cast<const int8_t*>(p)[i * stride];
  } else if (to_odd) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = f32_round_to_odd(reinterpret_cast<const int32_t*>(p)[i * stride]);
  } else {
    for (int64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(reinterpret_cast<const int32_t*>(p)[i * stride]);
  }
}

void store_any_row(DType t, char* p, int64_t stride, int64_t n, const float* in) {
  if (is_floating(t)) return store_row(t, p, stride, n, in);
  if (t == DType::i8)
    store_int_row<int8_t>(in, p, stride, n);
  else
    store_int_row<int32_t>(in, p, stride, n);
}

// Every pair of dtypes goes through f32, which holds each float source exactly; i32 sources
// are rounded once (see load_any_row).
void cast_op(ThreadPool& pool, ElementwiseArgs e) {
  if (e.a.dtype == e.out.dtype) return copy_op(pool, e);
  TensorArg* ts[2] = {&e.out, &e.a};
  coalesce_dims(ts, 2);
  const int64_t sa = row_stride(e.a), so = row_stride(e.out);
  const int64_t ea = elem_size(e.a), eo = elem_size(e.out);
  const bool to_odd = e.out.dtype == DType::f16 || e.out.dtype == DType::bf16;
  for_each_row_chunk(pool, e.out, [&](int64_t row, int64_t c0, int64_t c1) {
    alignas(64) float buf[kBlock];
    const char* pa = row_ptr(e.a, row) + c0 * sa * ea;
    char* po = row_ptr(e.out, row) + c0 * so * eo;
    for (int64_t c = c0; c < c1; c += kBlock) {
      const int64_t n = std::min(kBlock, c1 - c);
      const float* v = e.a.dtype == DType::f32 && sa == 1 ? reinterpret_cast<const float*>(pa) : buf;
      if (v == buf) load_any_row(e.a.dtype, pa, sa, n, buf, to_odd);
      store_any_row(e.out.dtype, po, so, n, v);
      pa += n * sa * ea;
      po += n * so * eo;
    }
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
