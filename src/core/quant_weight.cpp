// QuantWeight: construction (validated), host transfer in the canonical layout, views,
// and the FP8 E4M3FN conversions (porta/quant.h).
#include <cmath>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "core/impl.h"
#include "porta/quant.h"

namespace porta {

const char* quant_format_name(QuantFormat f) noexcept {
  switch (f) {
    case QuantFormat::int8: return "int8";
    case QuantFormat::int4: return "int4";
    case QuantFormat::int4_zp: return "int4_zp";
    case QuantFormat::fp8_e4m3fn: return "fp8_e4m3fn";
  }
  return "?";
}

std::string QuantScheme::str() const {
  std::string g = group > 0              ? " g" + std::to_string(group)
                  : group == kPerChannel ? " per-channel"
                  : group == kPerTensor  ? " per-tensor"
                                         : " group " + std::to_string(group);
  return std::string(quant_format_name(format)) + g + " (" + dtype_name(scale_dtype) + " scales)";
}

float fp8_e4m3fn_to_float(uint8_t c) {
  const int sign = c >> 7, exp = (c >> 3) & 15, man = c & 7;
  float v;
  if (exp == 15 && man == 7)
    v = std::nanf("");
  else if (exp == 0)
    v = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  else
    v = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  return sign ? -v : v;
}

uint8_t float_to_fp8_e4m3fn(float v) {
  if (std::isnan(v)) return 0x7f;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0;
  float a = std::fabs(v);
  if (a >= 448.0f) return sign | 0x7e;  // saturate to the largest finite value
  // Round to nearest even on the grid of the binade holding a (subnormal grid 2^-9 below 2^-6).
  int e;
  std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1)
  const int exp = std::max(e - 1, -6);
  const float step = std::ldexp(1.0f, exp - 3);
  const float q = std::nearbyint(a / step);  // FE_TONEAREST: ties to even
  float r = q * step;
  if (r >= 448.0f) return sign | 0x7e;
  if (r == 0.0f) return sign;
  int re;
  std::frexp(r, &re);
  if (re - 1 < -6) return static_cast<uint8_t>(sign | static_cast<uint8_t>(std::ldexp(r, 9)));  // subnormal
  const int be = re - 1 + 7;
  const int man = static_cast<int>(std::ldexp(r, -(re - 1)) * 8.0f) - 8;
  return static_cast<uint8_t>(sign | (be << 3) | man);
}

double QuantHostWeight::value(int64_t row, int64_t j) const {
  const int64_t rb = quant_row_bytes(scheme.format, k);
  const uint8_t byte = codes[static_cast<size_t>(
      row * rb +
      (scheme.format == QuantFormat::int8 || scheme.format == QuantFormat::fp8_e4m3fn ? j : j / 2))];
  const int64_t g = scheme.group > 0 ? j / scheme.group : 0;
  const int64_t G = scheme.groups(k);
  const double s =
      scheme.group == QuantScheme::kPerTensor ? scales[0] : scales[static_cast<size_t>(row * G + g)];
  switch (scheme.format) {
    case QuantFormat::int8: return static_cast<int8_t>(byte) * s;
    case QuantFormat::int4: return ((j & 1 ? byte >> 4 : byte & 15) - 8) * s;
    case QuantFormat::int4_zp:
      return ((j & 1 ? byte >> 4 : byte & 15) -
              static_cast<double>(zeros[static_cast<size_t>(row * G + g)])) *
             s;
    case QuantFormat::fp8_e4m3fn: return static_cast<double>(fp8_e4m3fn_to_float(byte)) * s;
  }
  return 0;
}

namespace {

[[noreturn]] void bad(Errc c, const std::string& what, const std::string& msg) {
  throw Error(c, what + ": " + msg);
}

/// Rejects schemes no format supports, and k that the group does not divide.
void check_scheme(const char* what, const QuantScheme& s, int64_t n, int64_t k) {
  const std::string dims = " for a [" + std::to_string(n) + ", " + std::to_string(k) + "] weight";
  if (n < 1 || k < 1) bad(Errc::invalid_argument, what, "extents must be >= 1" + dims);
  if (static_cast<int>(s.format) >= kNumQuantFormats) bad(Errc::invalid_argument, what, "unknown format");
  const bool ok_group = s.group == 32 || s.group == 64 || s.group == 128 ||
                        s.group == QuantScheme::kPerChannel ||
                        (s.group == QuantScheme::kPerTensor && s.format == QuantFormat::fp8_e4m3fn);
  if (!ok_group)
    bad(Errc::invalid_argument, what,
        "group " + std::to_string(s.group) + " is not valid for " + quant_format_name(s.format) +
            "; use 32, 64, 128, QuantScheme::kPerChannel (0) or, for fp8 only, kPerTensor (-1)");
  if (s.group > 0 && k % s.group != 0)
    bad(Errc::shape_mismatch, what,
        "group " + std::to_string(s.group) + " does not divide K = " + std::to_string(k) + dims +
            "; pad K to a multiple of the group or use per-channel scales");
  if (!is_floating(s.scale_dtype))
    bad(Errc::dtype_mismatch, what,
        std::string("scale dtype ") + dtype_name(s.scale_dtype) + " is not f16, bf16 or f32");
}

Shape scale_shape(const QuantScheme& s, int64_t n, int64_t k) {
  return s.group == QuantScheme::kPerTensor ? Shape{1, 1} : Shape{n, s.groups(k)};
}

}  // namespace

QuantWeight::QuantWeight(const QuantScheme& scheme, int64_t n, int64_t k, Tensor codes, Tensor scales,
                         Tensor zeros, Tensor perm)
    : scheme_(scheme),
      n_(n),
      k_(k),
      codes_(std::move(codes)),
      scales_(std::move(scales)),
      zeros_(std::move(zeros)),
      perm_(std::move(perm)) {
  const char* what = "QuantWeight";
  check_scheme(what, scheme_, n, k);
  const std::string desc = scheme_.str() + " [" + std::to_string(n) + ", " + std::to_string(k) + "]";
  if (!codes_.defined() || !scales_.defined())
    bad(Errc::invalid_argument, what, desc + ": codes and scales must be defined tensors");
  const int64_t rb = quant_row_bytes(scheme_.format, k), G = scheme_.groups(k);
  if (codes_.dtype() != DType::i8 || codes_.rank() != 2 || codes_.dim(0) != n || codes_.dim(1) != rb ||
      codes_.stride(1) != 1)
    bad(Errc::shape_mismatch, what,
        desc + ": codes " + codes_.str() + " must be i8 [" + std::to_string(n) + ", " + std::to_string(rb) +
            "] with unit column stride (" + (rb == k ? "one byte" : "two elements") + " per byte)");
  if (scales_.dtype() != scheme_.scale_dtype)
    bad(Errc::dtype_mismatch, what,
        desc + ": scales " + scales_.str() + " must have the scheme's scale dtype " +
            dtype_name(scheme_.scale_dtype));
  const bool per_tensor = scheme_.group == QuantScheme::kPerTensor;
  if (scales_.rank() != 2 || scales_.dim(1) != G ||
      (per_tensor ? scales_.dim(0) != 1 && scales_.dim(0) != n : scales_.dim(0) != n))
    bad(Errc::shape_mismatch, what,
        desc + ": scales " + scales_.str() + " must be [" +
            (per_tensor ? std::string("1") : std::to_string(n)) + ", " + std::to_string(G) + "]");
  if (per_tensor && scales_.dim(0) == 1)
    scales_ = scales_.view(Shape{n, 1}, Shape{0, 1}, scales_.offset_bytes());
  if (scheme_.format == QuantFormat::int4_zp) {
    if (!zeros_.defined())
      bad(Errc::invalid_argument, what, desc + ": int4_zp needs zero points (f16 [N, G])");
    if (zeros_.dtype() != DType::f16 || zeros_.rank() != 2 || zeros_.dim(0) != n || zeros_.dim(1) != G)
      bad(Errc::shape_mismatch, what,
          desc + ": zeros " + zeros_.str() + " must be f16 [" + std::to_string(n) + ", " + std::to_string(G) +
              "]");
  } else if (zeros_.defined()) {
    bad(Errc::invalid_argument, what,
        desc + ": zero points are only used by int4_zp; " + quant_format_name(scheme_.format) +
            " is symmetric");
  }
  if (perm_.defined() && (perm_.dtype() != DType::i32 || perm_.rank() != 1 || perm_.dim(0) != k))
    bad(Errc::shape_mismatch, what,
        desc + ": perm " + perm_.str() + " must be i32 [" + std::to_string(k) + "]");
  for (const Tensor* t : {&scales_, &zeros_, &perm_})
    if (t->defined() && t->device() != codes_.device())
      bad(Errc::device_mismatch, what, desc + ": codes, scales, zeros and perm must live on one device");
}

QuantWeight QuantWeight::empty(const Device& device, const QuantScheme& scheme, int64_t n, int64_t k,
                               bool with_perm) {
  check_scheme("QuantWeight::empty", scheme, n, k);
  Tensor codes = Tensor::empty(device, DType::i8, Shape{n, quant_row_bytes(scheme.format, k)});
  Tensor scales = Tensor::empty(device, scheme.scale_dtype, scale_shape(scheme, n, k));
  Tensor zeros, perm;
  if (scheme.format == QuantFormat::int4_zp)
    zeros = Tensor::empty(device, DType::f16, Shape{n, scheme.groups(k)});
  if (with_perm) perm = Tensor::empty(device, DType::i32, Shape{k});
  return QuantWeight(scheme, n, k, codes, scales, zeros, perm);
}

QuantWeight QuantWeight::from_host(Stream& s, const QuantHostWeight& h) {
  const char* what = "QuantWeight::from_host";
  check_scheme(what, h.scheme, h.n, h.k);
  const int64_t rb = quant_row_bytes(h.scheme.format, h.k);
  const int64_t G = h.scheme.groups(h.k);
  const int64_t nscales = h.scheme.group == QuantScheme::kPerTensor ? 1 : detail::checked_mul(h.n, G, what);
  const std::string desc = h.scheme.str() + " [" + std::to_string(h.n) + ", " + std::to_string(h.k) + "]";
  if (static_cast<int64_t>(h.codes.size()) != detail::checked_mul(h.n, rb, what))
    bad(Errc::shape_mismatch, what,
        desc + ": " + std::to_string(h.codes.size()) + " code bytes, expected N x " + std::to_string(rb));
  if (static_cast<int64_t>(h.scales.size()) != nscales)
    bad(Errc::shape_mismatch, what,
        desc + ": " + std::to_string(h.scales.size()) + " scales, expected " + std::to_string(nscales));
  const bool zp = h.scheme.format == QuantFormat::int4_zp;
  if (static_cast<int64_t>(h.zeros.size()) != (zp ? h.n * G : 0))
    bad(Errc::shape_mismatch, what,
        desc + ": " + std::to_string(h.zeros.size()) + " zero points, expected " +
            std::to_string(zp ? h.n * G : 0));
  for (float z : h.zeros)
    if (!(z >= 0.0f && z <= 255.0f) || z != std::floor(z))
      bad(Errc::invalid_argument, what,
          desc + ": zero point " + std::to_string(z) + " is not an integer in [0, 255]");
  for (float sc : h.scales)
    if (!std::isfinite(sc)) bad(Errc::invalid_argument, what, desc + ": a scale is not finite");
  if (!h.perm.empty()) {
    if (static_cast<int64_t>(h.perm.size()) != h.k)
      bad(Errc::shape_mismatch, what,
          desc + ": perm has " + std::to_string(h.perm.size()) + " entries, expected K");
    std::vector<char> seen(static_cast<size_t>(h.k), 0);
    for (int32_t p : h.perm) {
      if (p < 0 || p >= h.k || seen[static_cast<size_t>(p)])
        bad(Errc::invalid_argument, what, desc + ": perm is not a permutation of 0..K-1");
      seen[static_cast<size_t>(p)] = 1;
    }
  }
  QuantWeight w = empty(s.device(), h.scheme, h.n, h.k, !h.perm.empty());
  w.codes_.copy_from_host(s, h.codes.data());
  std::vector<uint8_t> tmp(h.scales.size() * dtype_size(h.scheme.scale_dtype));
  convert_host(DType::f32, h.scales.data(), h.scheme.scale_dtype, tmp.data(), h.scales.size());
  Tensor(w.scales_)
      .view(scale_shape(h.scheme, h.n, h.k), contiguous_strides(scale_shape(h.scheme, h.n, h.k)),
            w.scales_.offset_bytes())
      .copy_from_host(s, tmp.data());
  if (zp) {
    std::vector<uint16_t> z(h.zeros.size());
    convert_host(DType::f32, h.zeros.data(), DType::f16, z.data(), z.size());
    w.zeros_.copy_from_host(s, z.data());
  }
  if (!h.perm.empty()) w.perm_.copy_from_host(s, h.perm.data());
  s.synchronize();
  return w;
}

QuantHostWeight QuantWeight::to_host(Stream& s) const {
  if (!defined()) throw Error(Errc::invalid_argument, "QuantWeight::to_host: undefined weight");
  QuantHostWeight h;
  h.scheme = scheme_;
  h.n = n_;
  h.k = k_;
  h.codes.resize(static_cast<size_t>(codes_.numel()));
  codes_.copy_to_host(s, h.codes.data());
  Tensor sc = scheme_.group == QuantScheme::kPerTensor ? scales_.slice(0, 0, 1) : scales_;
  std::vector<uint8_t> raw(static_cast<size_t>(sc.nbytes()));
  sc.copy_to_host(s, raw.data());
  h.scales.resize(static_cast<size_t>(sc.numel()));
  convert_host(scheme_.scale_dtype, raw.data(), DType::f32, h.scales.data(), h.scales.size());
  if (zeros_.defined()) {
    std::vector<uint16_t> z(static_cast<size_t>(zeros_.numel()));
    zeros_.copy_to_host(s, z.data());
    h.zeros.resize(z.size());
    convert_host(DType::f16, z.data(), DType::f32, h.zeros.data(), z.size());
  }
  if (perm_.defined()) {
    h.perm.resize(static_cast<size_t>(k_));
    perm_.copy_to_host(s, h.perm.data());
  }
  return h;
}

int64_t QuantWeight::nbytes() const {
  if (!defined()) return 0;
  int64_t b = codes_.numel() + (scheme_.group == QuantScheme::kPerTensor
                                    ? static_cast<int64_t>(dtype_size(scheme_.scale_dtype))
                                    : scales_.nbytes());
  if (zeros_.defined()) b += zeros_.nbytes();
  return b;
}

std::string QuantWeight::str() const {
  if (!defined()) return "undefined quantized weight";
  return scheme_.str() + " [" + std::to_string(n_) + ", " + std::to_string(k_) + "]" +
         (perm_.defined() ? " with act-order permutation" : "");
}

QuantWeight QuantWeight::slice_n(int64_t start, int64_t end) const {
  if (!defined()) throw Error(Errc::invalid_argument, "QuantWeight::slice_n: undefined weight");
  if (start < 0 || end > n_ || start >= end)
    throw Error(Errc::invalid_argument, "QuantWeight::slice_n: [" + std::to_string(start) + ", " +
                                            std::to_string(end) + ") of " + str() +
                                            "; need 0 <= start < end <= " + std::to_string(n_));
  QuantWeight w = *this;
  w.n_ = end - start;
  w.codes_ = codes_.slice(0, start, end);
  w.scales_ = scales_.slice(0, start, end);
  if (zeros_.defined()) w.zeros_ = zeros_.slice(0, start, end);
  return w;
}

QuantWeight QuantWeight::slice_k(int64_t start, int64_t end) const {
  if (!defined()) throw Error(Errc::invalid_argument, "QuantWeight::slice_k: undefined weight");
  const std::string range = "[" + std::to_string(start) + ", " + std::to_string(end) + ") of " + str();
  if (start < 0 || end > k_ || start >= end)
    throw Error(Errc::invalid_argument,
                "QuantWeight::slice_k: " + range + "; need 0 <= start < end <= " + std::to_string(k_));
  if (perm_.defined())
    throw Error(Errc::invalid_argument,
                "QuantWeight::slice_k: " + range +
                    ": an act-order permutation mixes columns across the split; split the checkpoint's "
                    "g_idx per shard before importing");
  const bool nibbles = quant_row_bytes(scheme_.format, 2) == 1;
  const int64_t unit = scheme_.group > 0 ? scheme_.group : nibbles ? 2 : 1;
  if (start % unit != 0 || (end % unit != 0 && end != k_))
    throw Error(Errc::invalid_argument,
                "QuantWeight::slice_k: " + range +
                    " is not on group boundaries; start and end must be multiples of " +
                    std::to_string(unit) +
                    (scheme_.group > 0 ? " (the group size)" : " (two codes per byte)"));
  QuantWeight w = *this;
  w.k_ = end - start;
  const int64_t b0 = nibbles ? start / 2 : start, b1 = quant_row_bytes(scheme_.format, end);
  w.codes_ = codes_.slice(1, b0, b1);
  if (scheme_.group > 0) {
    w.scales_ = scales_.slice(1, start / scheme_.group, end / scheme_.group);
    if (zeros_.defined()) w.zeros_ = zeros_.slice(1, start / scheme_.group, end / scheme_.group);
  }
  return w;
}

bool supports_quant(const Device& device, const char* op_name, QuantFormat f, DType act) {
  if (!device.valid() || op_name == nullptr) return false;
  const std::string op = op_name;
  backend::Op kind;
  if (op == "quantize")
    kind = backend::Op::quantize;
  else if (op == "dequantize")
    kind = backend::Op::dequantize;
  else if (op == "gemm")
    kind = backend::Op::gemm_quant;
  else if (op == "embedding")
    kind = backend::Op::embedding_quant;
  else
    return false;
  return device.impl()->backend().supports_quant(kind, f, act);
}

}  // namespace porta
