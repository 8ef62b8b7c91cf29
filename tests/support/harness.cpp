#include "support/harness.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

namespace porta::test {

std::vector<Device> test_devices() {
  std::vector<Device> out;
  const char* filter = std::getenv("PORTA_TEST_DEVICES");
  std::vector<std::string> terms;
  if (filter && *filter) {
    std::string f = filter;
    size_t start = 0;
    while (start <= f.size()) {
      const size_t c = f.find(',', start);
      terms.push_back(f.substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
  }
  for (const auto& d : devices()) {
    const auto& i = d.info();
    const std::string full = i.backend + ":" + std::to_string(i.index);
    bool keep = terms.empty();
    for (const auto& t : terms) keep = keep || t == i.backend || t == full;
    if (keep) out.push_back(d);
  }
  return out;
}

bool DeviceTest::noted(bool supported, const char* op, DType in, DType out) const {
  if (supported) return true;
  static std::set<std::string> said;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string what = std::string(op ? op : "any op") + " in " + dtype_name(in) +
                           (in == out ? "" : std::string(" -> ") + dtype_name(out));
  if (said.insert(std::string(info ? info->name() : "?") + "|" + what).second)
    std::printf("[ SKIPPED  ] cases of %s on %s: the device does not support it\n", what.c_str(),
                GetParam().description().c_str());
  return false;
}

std::string device_name(const ::testing::TestParamInfo<Device>& info) {
  return info.param.info().backend + "_" + std::to_string(info.param.info().index);
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::padded: return "padded";
    case Layout::transposed: return "transposed";
    case Layout::stepped: return "stepped";
  }
  return "?";
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

std::vector<int64_t> cat(std::vector<int64_t> a, std::initializer_list<int64_t> b) {
  a.insert(a.end(), b);
  return a;
}

HostTensor transpose_last(const HostTensor& x) {
  auto shape = x.shape;
  const int r = x.rank();
  std::swap(shape[r - 1], shape[r - 2]);
  HostTensor t(shape);
  const int64_t R = x.shape[r - 2], C = x.shape[r - 1], batches = x.numel() / (R * C);
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j) t[(b * C + j) * R + i] = x[(b * R + i) * C + j];
  return t;
}

HostTensor nan_past_lengths(HostTensor x, const std::vector<int32_t>& lens) {
  const int64_t B = x.shape[0], H = x.shape[1], S = x.shape[2], D = x.shape[3];
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = std::clamp<int64_t>(lens[static_cast<size_t>(b)], 0, S);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = len; j < S; ++j)
        for (int64_t e = 0; e < D; ++e) x[((b * H + h) * S + j) * D + e] = std::nan("");
  }
  return x;
}

HostTensor to_bshd(const HostTensor& x) {
  const int64_t B = x.shape[0], H = x.shape[1], S = x.shape[2], D = x.shape[3];
  HostTensor y({B, S, H, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d) y[((b * S + s) * H + h) * D + d] = x[((b * H + h) * S + s) * D + d];
  return y;
}

HostTensor random(const std::vector<int64_t>& shape, DType t, uint32_t seed, double lo, double hi) {
  HostTensor h(shape);
  std::mt19937 rng(seed);
  // mt19937 is specified exactly; uniform_real_distribution is not, so map by hand to get
  // the same data from every standard library.
  auto u = [&](std::mt19937& g) { return lo + (hi - lo) * (static_cast<double>(g()) * 0x1p-32); };
  std::vector<uint8_t> tmp(8);
  for (auto& v : h.v) {
    store_from_double(t, tmp.data(), 0, u(rng));
    v = load_as_double(t, tmp.data(), 0);
  }
  return h;
}

namespace {

Shape to_shape(const std::vector<int64_t>& v) {
  Shape s;
  s.rank = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) s[static_cast<int>(i)] = v[i];
  return s;
}

std::vector<uint8_t> to_bytes(const HostTensor& h, DType t) {
  std::vector<uint8_t> b(static_cast<size_t>(h.numel()) * dtype_size(t));
  for (int64_t i = 0; i < h.numel(); ++i) store_from_double(t, b.data(), static_cast<size_t>(i), h[i]);
  return b;
}

// Storage shape, view strides (elements) and storage element count for a layout.
struct Placement {
  Shape shape, strides;
  int64_t storage_elems;
};

Placement place(const std::vector<int64_t>& logical, Layout layout) {
  Placement p;
  p.shape = to_shape(logical);
  const int r = p.shape.rank;
  if (layout == Layout::transposed && r < 2) layout = Layout::padded;
  Shape store = p.shape;
  if (layout == Layout::padded) store[r - 1] += 3;
  if (layout == Layout::transposed) std::swap(store[r - 1], store[r - 2]);
  if (layout == Layout::stepped) store[r - 1] *= 2;
  Shape cs = contiguous_strides(store);
  p.strides = cs;
  if (layout == Layout::transposed) std::swap(p.strides[r - 1], p.strides[r - 2]);
  if (layout == Layout::stepped) p.strides[r - 1] = 2;
  p.storage_elems = store.numel();
  return p;
}

}  // namespace

Tensor upload(Stream& s, const HostTensor& h, DType t, Layout layout) {
  const Placement p = place(h.shape, layout);
  Tensor storage = Tensor::empty(s.device(), t, Shape{p.storage_elems});
  Tensor view = storage.view(p.shape, p.strides, 0);
  const auto bytes = to_bytes(h, t);
  view.copy_from_host(s, bytes.data());
  s.synchronize();
  return view;
}

HostTensor download(Stream& s, const Tensor& t) {
  std::vector<int64_t> shape(t.shape().dims.begin(), t.shape().dims.begin() + t.rank());
  HostTensor h(shape);
  std::vector<uint8_t> b(static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  t.copy_to_host(s, b.data());
  for (int64_t i = 0; i < h.numel(); ++i) h[i] = load_as_double(t.dtype(), b.data(), static_cast<size_t>(i));
  return h;
}

constexpr int64_t kGuard = 37;  // elements of guard before and after the output

GuardedOutput::GuardedOutput(Stream& s, const std::vector<int64_t>& shape, DType t, Layout layout) {
  const Placement p = place(shape, layout);
  const int64_t total = p.storage_elems + 2 * kGuard;
  storage_ = Tensor::empty(s.device(), t, Shape{total});
  pattern_.resize(static_cast<size_t>(total) * dtype_size(t));
  for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<uint8_t>(0x5a ^ (i * 131));
  storage_.copy_from_host(s, pattern_.data());
  view_ = storage_.view(p.shape, p.strides, kGuard * static_cast<int64_t>(dtype_size(t)));
  ops::fill(s, view_, is_floating(t) ? std::nan("") : -77.0);
  s.synchronize();
}

void GuardedOutput::set(Stream& s, const HostTensor& h) {
  const auto bytes = to_bytes(h, view_.dtype());
  view_.copy_from_host(s, bytes.data());
  s.synchronize();
}

HostTensor GuardedOutput::result(Stream& s) const {
  std::vector<uint8_t> all(pattern_.size());
  storage_.copy_to_host(s, all.data());
  // Element offsets the view covers; every other byte must still hold the pattern.
  const size_t es = dtype_size(view_.dtype());
  std::vector<bool> covered(all.size() / es, false);
  const Shape& sh = view_.shape();
  const Shape& st = view_.strides();
  const int64_t base = view_.offset_bytes() / static_cast<int64_t>(es);
  const int64_t n = view_.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = base;
    for (int d = sh.rank - 1; d >= 0; --d) {
      off += (rem % sh[d]) * st[d];
      rem /= sh[d];
    }
    covered[static_cast<size_t>(off)] = true;
  }
  int64_t damaged = 0;
  for (size_t e = 0; e < covered.size(); ++e)
    if (!covered[e] && std::memcmp(&all[e * es], &pattern_[e * es], es) != 0) ++damaged;
  if (damaged)
    ADD_FAILURE() << damaged << " guard elements around output " << view_.str() << " were overwritten";
  return download(s, view_);
}

void check_attention(Stream& s, const HostTensor& q, const HostTensor& k, const HostTensor& v,
                     const Tensor& Q, const Tensor& K, const Tensor& V, GuardedOutput& out, DType t,
                     bool causal, const std::vector<int32_t>& lens) {
  Tensor lens_t;
  ops::AttentionOptions o;
  o.causal = causal;
  if (!lens.empty()) {
    lens_t = Tensor::from_host(s, DType::i32, {static_cast<int64_t>(lens.size())}, lens.data());
    o.kv_lens = &lens_t;
  }
  ops::attention(s, Q, K, V, out.tensor(), o);
  const HostTensor want = ref::attention(q, k, v, causal, 1.0 / std::sqrt(static_cast<double>(q.shape[3])),
                                         lens.empty() ? nullptr : &lens);
  const bool some_rows_empty = !lens.empty() || (causal && q.shape[2] > k.shape[2]);
  EXPECT_TRUE(close(out.result(s), want, OpClass::matmul, t, !some_rows_empty));
}

double tolerance(OpClass c, DType t) {
  switch (c) {
    case OpClass::exact: return 0.0;
    case OpClass::elementwise:  // one rounding of the output dominates
      return t == DType::f32 ? 1e-10 : t == DType::f16 ? 1e-6 : 1e-4;
    case OpClass::reduction:  // norms, softmax, rope: f32 accumulation over a row
      return t == DType::f32 ? 1e-9 : t == DType::f16 ? 1e-5 : 1e-4;
    case OpClass::matmul:  // gemm, attention: f32 accumulation, inputs already in dtype
      return t == DType::f32 ? 1e-9 : 5e-4;
  }
  return 0.0;
}

::testing::AssertionResult close(const HostTensor& out, const HostTensor& ref, OpClass c, DType t,
                                 bool check_weak) {
  if (out.shape != ref.shape)
    return ::testing::AssertionFailure()
           << "shape " << shape_str(out.shape) << " vs reference " << shape_str(ref.shape);
  double num = 0, den = 0;
  int64_t zeros = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double o = out[i], r = ref[i];
    if (std::isfinite(r) && !std::isfinite(o))
      return ::testing::AssertionFailure() << "element " << i << " is " << o << ", reference " << r;
    if (!std::isfinite(r)) {  // Inf or NaN in the reference must be matched exactly
      if (!(std::isnan(r) && std::isnan(o)) && o != r)
        return ::testing::AssertionFailure() << "element " << i << " is " << o << ", reference " << r;
      continue;
    }
    num += (o - r) * (o - r);
    den += r * r;
    if (std::fabs(r) < 1e-12) ++zeros;
  }
  if (check_weak && zeros * 2 > ref.numel())
    return ::testing::AssertionFailure()
           << "weak test: " << zeros << " of " << ref.numel() << " reference values are 0";
  const double nmse = den > 0 ? num / den : num;
  const double tol = tolerance(c, t);
  // PORTA_TEST_PRINT_NMSE=1 prints every comparison's margin, for calibrating tolerances.
  static const bool print = std::getenv("PORTA_TEST_PRINT_NMSE") != nullptr;
  if (print) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::printf("nmse %.3e tol %.1e ratio %.3f %s %s %s\n", nmse, tol, nmse / tol, dtype_name(t),
                info ? info->name() : "?", shape_str(ref.shape).c_str());
  }
  if (nmse > tol)
    return ::testing::AssertionFailure() << "NMSE " << nmse << " > " << tol << " (" << dtype_name(t) << ")";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult equal(const HostTensor& out, const HostTensor& ref) {
  if (out.shape != ref.shape)
    return ::testing::AssertionFailure()
           << "shape " << shape_str(out.shape) << " vs reference " << shape_str(ref.shape);
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const bool both_nan = std::isnan(out[i]) && std::isnan(ref[i]);
    if (!both_nan && out[i] != ref[i])
      return ::testing::AssertionFailure() << "element " << i << ": " << out[i] << " vs " << ref[i];
  }
  return ::testing::AssertionSuccess();
}

}  // namespace porta::test
