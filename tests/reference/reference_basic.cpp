// Reference: shapes, broadcasting, element-wise, norms, rope, softmax, cast, gather, argmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "reference/reference.h"

namespace porta::ref {

HostTensor::HostTensor(std::vector<int64_t> s) : shape(std::move(s)), v(static_cast<size_t>(numel()), 0.0) {}

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

int64_t broadcast_index(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape,
                        int64_t out_index) {
  const int shift = static_cast<int>(out_shape.size() - shape.size());
  int64_t idx = 0, mult = 1;
  for (int d = static_cast<int>(out_shape.size()) - 1; d >= 0; --d) {
    const int64_t i = out_index % out_shape[static_cast<size_t>(d)];
    out_index /= out_shape[static_cast<size_t>(d)];
    const int sd = d - shift;
    if (sd < 0) continue;
    const int64_t extent = shape[static_cast<size_t>(sd)];
    idx += (extent == 1 ? 0 : i) * mult;
    mult *= extent;
  }
  return idx;
}

double activation(ops::Activation a, double x) {
  switch (a) {
    case ops::Activation::none: return x;
    case ops::Activation::relu: return x > 0 ? x : 0;
    case ops::Activation::gelu:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case ops::Activation::silu: return x / (1 + std::exp(-x));
  }
  return x;
}

HostTensor rms_norm(const HostTensor& x, const HostTensor& w, double eps) {
  HostTensor o(x.shape);
  const int64_t D = x.shape.back(), rows = x.numel() / D;
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += x[r * D + i] * x[r * D + i];
    const double inv = 1 / std::sqrt(ss / static_cast<double>(D) + eps);
    for (int64_t i = 0; i < D; ++i) o[r * D + i] = x[r * D + i] * inv * w[i];
  }
  return o;
}

HostTensor layer_norm(const HostTensor& x, const HostTensor& w, const HostTensor* b, double eps) {
  HostTensor o(x.shape);
  const int64_t D = x.shape.back(), rows = x.numel() / D;
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < D; ++i) mean += x[r * D + i];
    mean /= static_cast<double>(D);
    for (int64_t i = 0; i < D; ++i) var += (x[r * D + i] - mean) * (x[r * D + i] - mean);
    const double inv = 1 / std::sqrt(var / static_cast<double>(D) + eps);
    for (int64_t i = 0; i < D; ++i) o[r * D + i] = (x[r * D + i] - mean) * inv * w[i] + (b ? (*b)[i] : 0.0);
  }
  return o;
}

HostTensor rope(const HostTensor& x, const std::vector<int32_t>& pos, bool per_batch, ops::RopeStyle style,
                double theta, int R, const std::vector<float>& ff) {
  HostTensor o = x;
  const int64_t B = x.shape[0], H = x.shape[1], S = x.shape[2], D = x.shape[3];
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s) {
        const double p = pos[static_cast<size_t>(per_batch ? b * S + s : s)];
        const int64_t base = ((b * H + h) * S + s) * D;
        for (int i = 0; i < R / 2; ++i) {
          const double ang = p * std::pow(theta, -2.0 * i / R) / (ff.empty() ? 1.0 : ff[static_cast<size_t>(i)]);
          const int64_t i0 = style == ops::RopeStyle::neox ? i : 2 * i;
          const int64_t i1 = style == ops::RopeStyle::neox ? i + R / 2 : 2 * i + 1;
          o[base + i0] = x[base + i0] * std::cos(ang) - x[base + i1] * std::sin(ang);
          o[base + i1] = x[base + i1] * std::cos(ang) + x[base + i0] * std::sin(ang);
        }
      }
  return o;
}

HostTensor softmax(const HostTensor& x, double scale, const HostTensor* mask) {
  HostTensor o(x.shape);
  const int64_t D = x.shape.back(), rows = x.numel() / D;
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -std::numeric_limits<double>::infinity();
    std::vector<double> v(static_cast<size_t>(D));
    for (int64_t i = 0; i < D; ++i) {
      v[static_cast<size_t>(i)] =
          scale * x[r * D + i] + (mask ? (*mask)[broadcast_index(mask->shape, x.shape, r * D + i)] : 0.0);
      mx = std::max(mx, v[static_cast<size_t>(i)]);
    }
    if (mx == -std::numeric_limits<double>::infinity()) continue;  // all masked: zeros
    double sum = 0;
    for (auto& e : v) sum += (e = std::exp(e - mx));
    for (int64_t i = 0; i < D; ++i) o[r * D + i] = v[static_cast<size_t>(i)] / sum;
  }
  return o;
}

HostTensor unary(Unary op, const HostTensor& x, double alpha) {
  HostTensor o(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double a = x[i];
    switch (op) {
      case Unary::gelu_tanh: o[i] = activation(ops::Activation::gelu, a); break;
      case Unary::gelu_erf: o[i] = 0.5 * a * (1 + std::erf(a / std::sqrt(2.0))); break;
      case Unary::scale: o[i] = alpha * a; break;
    }
  }
  return o;
}

HostTensor binary(Binary op, const HostTensor& a, const HostTensor& b,
                  const std::vector<int64_t>& out_shape) {
  HostTensor o(out_shape);
  for (int64_t i = 0; i < o.numel(); ++i) {
    const double x = a[broadcast_index(a.shape, out_shape, i)], y = b[broadcast_index(b.shape, out_shape, i)];
    switch (op) {
      case Binary::add: o[i] = x + y; break;
      case Binary::mul: o[i] = x * y; break;
      case Binary::silu_mul: o[i] = x / (1 + std::exp(-x)) * y; break;
    }
  }
  return o;
}

namespace {

// v rounded once (to nearest, ties to even) to f16 or bf16. Rounding through f32 first is
// wrong for values whose f32 neighbour is a half-way point of the narrow format.
double round_to_half(double v, DType t) {
  if (std::isnan(v)) return v;
  const bool bf = t == DType::bf16;
  const uint16_t max_bits = bf ? 0x7f7f : 0x7bff;
  auto decode = [&](uint16_t m) -> double { return bf ? bf16_to_float(m) : f16_to_float(m); };
  const double a = std::fabs(v), max = decode(max_bits);
  if (a >= max + (max - decode(static_cast<uint16_t>(max_bits - 1))) / 2)
    return std::copysign(std::numeric_limits<double>::infinity(), v);
  // Rounding through f32 is off by at most one step, so the answer is m or a neighbour.
  const float af = static_cast<float>(a);
  uint16_t m = static_cast<uint16_t>((bf ? float_to_bf16(af) : float_to_f16(af)) & 0x7fffu);
  if (m > max_bits) m = max_bits;
  uint16_t best = m;
  for (int d : {-1, 1}) {
    const int c = m + d;
    if (c < 0 || c > max_bits) continue;
    const double dc = std::fabs(decode(static_cast<uint16_t>(c)) - a), db = std::fabs(decode(best) - a);
    if (dc < db || (dc == db && (c & 1) == 0)) best = static_cast<uint16_t>(c);
  }
  return std::copysign(decode(best), v);
}

}  // namespace

HostTensor cast(const HostTensor& x, DType to) {
  HostTensor o(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = x[i];
    switch (to) {
      case DType::f32: o[i] = static_cast<float>(v); break;
      case DType::f16:
      case DType::bf16: o[i] = round_to_half(v, to); break;
      case DType::i8:
      case DType::i32: {
        const double lo = to == DType::i8 ? -128.0 : -2147483648.0,
                     hi = to == DType::i8 ? 127.0 : 2147483647.0;
        o[i] = std::isnan(v) ? 0.0 : std::clamp(std::nearbyint(v), lo, hi);
        break;
      }
      case DType::i64: o[i] = std::isnan(v) ? 0.0 : std::nearbyint(v); break;  // (no op casts to i64)
    }
  }
  return o;
}

HostTensor embedding(const HostTensor& table, const std::vector<int32_t>& ids,
                     const std::vector<int64_t>& ids_shape) {
  const int64_t V = table.shape[0], D = table.shape[1];
  std::vector<int64_t> shape = ids_shape;
  shape.push_back(D);
  HostTensor o(shape);
  for (size_t n = 0; n < ids.size(); ++n)
    for (int64_t d = 0; d < D; ++d)
      o[static_cast<int64_t>(n) * D + d] = ids[n] >= 0 && ids[n] < V ? table[ids[n] * D + d] : 0.0;
  return o;
}

std::vector<int32_t> argmax(const HostTensor& x) {
  const int64_t C = x.shape.back(), R = x.numel() / C;
  std::vector<int32_t> out(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < C && !std::isnan(x[r * C + best]); ++c)
      if (std::isnan(x[r * C + c]) || x[r * C + c] > x[r * C + best]) best = c;
    out[static_cast<size_t>(r)] = static_cast<int32_t>(best);
  }
  return out;
}

}  // namespace porta::ref
