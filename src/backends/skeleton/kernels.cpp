// One plain loop per op, in double precision, over logical indices: slow, short, and easy to
// check against the op's definition in porta/ops.h. Elements are addressed through the
// strides core passes (zero strides are broadcasts); loads and stores convert through
// porta's host conversions (one rounding to the output dtype).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/skeleton/skeleton.h"

namespace porta::skeleton {
namespace {

// The queue bound each tensor to its address (queue.cpp, bind()).
unsigned char* base(const TensorArg& t) {
  return reinterpret_cast<unsigned char*>(static_cast<intptr_t>(t.offset));
}

/// Element offset (in elements) of logical index `i` (row-major over t.shape).
int64_t at(const TensorArg& t, int64_t i) {
  int64_t off = 0;
  for (int d = t.rank - 1; d >= 0; --d) {
    off += (i % t.shape[d]) * t.strides[d];
    i /= t.shape[d];
  }
  return off;
}
int64_t at4(const TensorArg& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return a * t.strides[0] + b * t.strides[1] + c * t.strides[2] + d * t.strides[3];
}

double ld(const TensorArg& t, int64_t off) {
  return load_as_double(t.dtype, base(t), static_cast<size_t>(off));
}
void st(const TensorArg& t, int64_t off, double v) {
  store_from_double(t.dtype, base(t), static_cast<size_t>(off), v);
}

double activate(ops::Activation a, double x) {
  switch (a) {
    case ops::Activation::none: return x;
    case ops::Activation::relu: return x > 0 ? x : 0;
    case ops::Activation::gelu:
      return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case ops::Activation::silu: return x / (1 + std::exp(-x));
  }
  return x;
}

}  // namespace

void k_gemm(const GemmArgs& g) {
  const int64_t B = g.c.shape[0], M = g.c.shape[1], N = g.c.shape[2], K = g.a.shape[2];
  auto idx3 = [](const TensorArg& t, int64_t b, int64_t r, int64_t c) {
    return b * t.strides[0] + r * t.strides[1] + c * t.strides[2];
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += ld(g.a, idx3(g.a, b, m, k)) * ld(g.b, idx3(g.b, b, k, n));
        const int64_t c = idx3(g.c, b, m, n);
        double v = g.alpha * acc;
        if (g.beta != 0) v += g.beta * ld(g.c, c);  // beta == 0 never reads C (it may hold NaN)
        if (g.bias) v += ld(*g.bias, n * g.bias->strides[0]);
        st(g.c, c, activate(g.activation, v));
      }
}

void k_attention(const AttentionArgs& a) {
  const int64_t B = a.q.shape[0], Hq = a.q.shape[1], Sq = a.q.shape[2], D = a.q.shape[3];
  const int64_t Hkv = a.k.shape[1], Skv = a.k.shape[2], group = Hq / Hkv;
  std::vector<double> p(static_cast<size_t>(Skv));
  for (int64_t b = 0; b < B; ++b) {
    // Device-resident lengths are clamped, never trusted.
    const int64_t len =
        a.kv_lens
            ? std::clamp<int64_t>(static_cast<int64_t>(ld(*a.kv_lens, b * a.kv_lens->strides[0])), 0, Skv)
            : Skv;
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        const int64_t lim = a.causal ? std::clamp<int64_t>(i + (len - Sq) + 1, 0, len) : len;
        const int64_t hk = h / group;
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t j = 0; j < lim; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += ld(a.q, at4(a.q, b, h, i, d)) * ld(a.k, at4(a.k, b, hk, j, d));
          p[static_cast<size_t>(j)] = s * a.scale;
          mx = std::max(mx, s * a.scale);
        }
        for (int64_t j = 0; j < lim; ++j)
          sum += (p[static_cast<size_t>(j)] = std::exp(p[static_cast<size_t>(j)] - mx));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < lim; ++j) acc += p[static_cast<size_t>(j)] * ld(a.v, at4(a.v, b, hk, j, d));
          st(a.out, at4(a.out, b, h, i, d), lim == 0 ? 0.0 : acc / sum);  // no key seen: zeros
        }
      }
  }
}

void k_norm(const NormArgs& a, bool layer) {
  const int64_t D = a.x.shape[a.x.rank - 1], rows = a.x.numel() / D;
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, ss = 0;
    if (layer) {
      for (int64_t i = 0; i < D; ++i) mean += ld(a.x, at(a.x, r * D + i));
      mean /= static_cast<double>(D);
    }
    for (int64_t i = 0; i < D; ++i) {
      const double v = ld(a.x, at(a.x, r * D + i)) - mean;
      ss += v * v;
    }
    const double inv = 1 / std::sqrt(ss / static_cast<double>(D) + a.eps);
    for (int64_t i = 0; i < D; ++i) {
      double v = (ld(a.x, at(a.x, r * D + i)) - mean) * inv * ld(a.weight, i * a.weight.strides[0]);
      if (a.bias) v += ld(*a.bias, i * a.bias->strides[0]);
      st(a.out, at(a.out, r * D + i), v);
    }
  }
}

void k_rope(const RopeArgs& a) {
  const int64_t B = a.x.shape[0], H = a.x.shape[1], S = a.x.shape[2], D = a.x.shape[3];
  const int R = a.rotary_dim;
  const bool neox = a.style == ops::RopeStyle::neox;
  std::vector<double> row(static_cast<size_t>(D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s) {
        const double pos = ld(a.positions, b * a.positions.strides[0] + s * a.positions.strides[1]);
        for (int64_t d = 0; d < D; ++d) row[static_cast<size_t>(d)] = ld(a.x, at4(a.x, b, h, s, d));
        for (int i = 0; i < R / 2; ++i) {
          const double ang = pos * std::pow(static_cast<double>(a.theta), -2.0 * i / R) /
                             (a.freq_factors ? static_cast<double>(a.freq_factors[i]) : 1.0);
          const size_t i0 = static_cast<size_t>(neox ? i : 2 * i),
                       i1 = static_cast<size_t>(neox ? i + R / 2 : 2 * i + 1);
          const double x0 = row[i0], x1 = row[i1];
          row[i0] = x0 * std::cos(ang) - x1 * std::sin(ang);
          row[i1] = x1 * std::cos(ang) + x0 * std::sin(ang);
        }
        for (int64_t d = 0; d < D; ++d) st(a.out, at4(a.out, b, h, s, d), row[static_cast<size_t>(d)]);
      }
}

void k_softmax(const SoftmaxArgs& a) {
  const int64_t D = a.x.shape[a.x.rank - 1], rows = a.x.numel() / D;
  std::vector<double> v(static_cast<size_t>(D));
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    for (int64_t i = 0; i < D; ++i) {
      double e = a.scale * ld(a.x, at(a.x, r * D + i));
      if (a.mask) e += ld(*a.mask, at(*a.mask, r * D + i));
      v[static_cast<size_t>(i)] = e;
      mx = std::max(mx, e);
    }
    const bool none = mx == -std::numeric_limits<double>::infinity();  // all masked: zeros
    for (auto& e : v) sum += (e = none ? 0.0 : std::exp(e - mx));
    for (int64_t i = 0; i < D; ++i)
      st(a.out, at(a.out, r * D + i), none ? 0.0 : v[static_cast<size_t>(i)] / sum);
  }
}

void k_elementwise(const ElementwiseArgs& e) {
  const int64_t n = e.out.numel();
  const size_t es = dtype_size(e.out.dtype);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t oa = at(e.a, i), oo = at(e.out, i);
    if ((e.kind == Elementwise::copy || e.kind == Elementwise::cast) && e.a.dtype == e.out.dtype) {
      std::memcpy(base(e.out) + oo * static_cast<int64_t>(es), base(e.a) + oa * static_cast<int64_t>(es), es);
      continue;  // bit-exact (NaN payloads included)
    }
    const double x = ld(e.a, oa);
    double y = 0;
    switch (e.kind) {
      case Elementwise::silu_mul: y = x / (1 + std::exp(-x)) * ld(e.b, at(e.b, i)); break;
      case Elementwise::gelu_tanh: y = activate(ops::Activation::gelu, x); break;
      case Elementwise::gelu_erf: y = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); break;
      case Elementwise::add: y = x + ld(e.b, at(e.b, i)); break;
      case Elementwise::mul: y = x * ld(e.b, at(e.b, i)); break;
      case Elementwise::scale: y = static_cast<double>(e.alpha) * x; break;
      case Elementwise::cast:
      case Elementwise::copy: y = x; break;
    }
    st(e.out, oo, y);
  }
}

void k_fill(const FillArgs& f) {
  for (int64_t i = 0, n = f.dst.numel(); i < n; ++i) st(f.dst, at(f.dst, i), f.value);
}

void k_embedding(const EmbeddingArgs& e) {
  const int64_t V = e.table.shape[0], D = e.table.shape[1], N = e.out.shape[0];
  for (int64_t r = 0; r < N; ++r) {
    const auto id = static_cast<int64_t>(ld(e.ids, r * e.ids.strides[0]));
    const bool ok = id >= 0 && id < V;  // out-of-range ids give zero rows, never a wild read
    for (int64_t d = 0; d < D; ++d)
      st(e.out, r * e.out.strides[0] + d * e.out.strides[1],
         ok ? ld(e.table, id * e.table.strides[0] + d * e.table.strides[1]) : 0.0);
  }
}

void k_argmax(const ArgmaxArgs& a) {
  const int64_t R = a.x.shape[0], C = a.x.shape[1];
  for (int64_t r = 0; r < R; ++r) {
    int64_t best = 0;
    double bv = ld(a.x, r * a.x.strides[0]);
    for (int64_t c = 1; c < C && !std::isnan(bv); ++c) {  // the first NaN wins
      const double v = ld(a.x, r * a.x.strides[0] + c * a.x.strides[1]);
      if (std::isnan(v) || v > bv) best = c, bv = v;
    }
    st(a.out, r * a.out.strides[0], static_cast<double>(best));
  }
}

}  // namespace porta::skeleton
