// Fuzzes op validation and execution on the cpu backend. Each input describes one call:
// the op, small random shapes (broadcast dims, batch dims), dtypes, memory layouts
// (contiguous, padded rows, transposed, stepped) and options. A call built within the
// op's contract must run and match the float64 reference (tests/reference) with a loose
// per-dtype bound; its output sits between guard bytes that must survive. Then, for about
// a third of the inputs, one thing is broken (an extent, a dtype, an option, the output
// aliasing an input, a zero output stride): the op must throw porta::Error naming itself,
// or run without touching memory outside its output, and the device must stay usable.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "reference/reference.h"

namespace {

using namespace porta;
using ref::HostTensor;

std::string g_call;  // the call being checked, for the failure message

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_ops: %s\n  call: %s\n", what.c_str(), g_call.c_str());
  std::abort();
}

enum class Layout { contiguous, padded, transposed, stepped };

struct Spec {  // one operand as the generator wants it
  std::vector<int64_t> shape;
  DType t = DType::f32;
  Layout layout = Layout::contiguous;
};

Shape to_shape(const std::vector<int64_t>& v) {
  Shape s;
  s.rank = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) s[static_cast<int>(i)] = v[i];
  return s;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto e : s) n *= e;
  return n;
}

constexpr int64_t kGuard = 19;  // elements of sentinel before and after every tensor

// A tensor inside a larger buffer: guard elements around it, gaps for non-contiguous layouts.
struct Placed {
  Tensor storage, view;
  std::vector<uint8_t> before;  // storage bytes after placing (sentinels + data)
};

Placed place(Stream& s, const Spec& sp, const HostTensor* values) {
  const int r = static_cast<int>(sp.shape.size());
  Layout l = sp.layout;
  if (l == Layout::transposed && r < 2) l = Layout::padded;
  std::vector<int64_t> store = sp.shape;
  if (l == Layout::padded) store.back() += 3;
  if (l == Layout::transposed)
    std::swap(store[static_cast<size_t>(r - 1)], store[static_cast<size_t>(r - 2)]);
  if (l == Layout::stepped) store.back() *= 2;
  Shape st = contiguous_strides(to_shape(store));
  if (l == Layout::transposed) std::swap(st[r - 1], st[r - 2]);
  if (l == Layout::stepped) st[r - 1] = 2;
  const size_t es = dtype_size(sp.t);
  const int64_t total = numel(store) + 2 * kGuard;
  Placed p;
  p.storage = Tensor::empty(s.device(), sp.t, {total});
  p.before.resize(static_cast<size_t>(total) * es);
  for (size_t i = 0; i < p.before.size(); ++i) p.before[i] = static_cast<uint8_t>(0xa5 ^ (i * 29));
  p.storage.copy_from_host(s, p.before.data());
  p.view = p.storage.view(to_shape(sp.shape), st, kGuard * static_cast<int64_t>(es));
  if (values) {
    std::vector<uint8_t> b(static_cast<size_t>(values->numel()) * es);
    for (int64_t i = 0; i < values->numel(); ++i)
      store_from_double(sp.t, b.data(), static_cast<size_t>(i), (*values)[i]);
    p.view.copy_from_host(s, b.data());
  } else {
    ops::fill(s, p.view, is_floating(sp.t) ? std::nan("") : -77.0);  // poison: unwritten elements show
  }
  s.synchronize();
  p.storage.copy_to_host(s, p.before.data());
  return p;
}

HostTensor read(Stream& s, const Tensor& t) {
  std::vector<int64_t> shape(t.shape().dims.begin(), t.shape().dims.begin() + t.rank());
  HostTensor h(shape);
  std::vector<uint8_t> b(static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  t.copy_to_host(s, b.data());
  for (int64_t i = 0; i < h.numel(); ++i) h[i] = load_as_double(t.dtype(), b.data(), static_cast<size_t>(i));
  return h;
}

// Every storage byte outside the view's elements must be as placed.
void check_guards(Stream& s, const Placed& p, const char* op) {
  std::vector<uint8_t> now(p.before.size());
  p.storage.copy_to_host(s, now.data());
  const size_t es = dtype_size(p.view.dtype());
  std::vector<bool> covered(now.size() / es, false);
  const Shape& sh = p.view.shape();
  const Shape& st = p.view.strides();
  for (int64_t i = 0; i < p.view.numel(); ++i) {
    int64_t rem = i, off = p.view.offset_bytes() / static_cast<int64_t>(es);
    for (int d = sh.rank - 1; d >= 0; --d) {
      off += (rem % sh[d]) * st[d];
      rem /= sh[d];
    }
    covered[static_cast<size_t>(off)] = true;
  }
  for (size_t e = 0; e < covered.size(); ++e)
    if (!covered[e] && std::memcmp(&now[e * es], &p.before[e * es], es) != 0)
      fail(std::string(op) + " wrote outside its output (element " + std::to_string(e) + " of the buffer)");
}

HostTensor random_values(const std::vector<int64_t>& shape, DType t, std::mt19937& rng) {
  HostTensor h(shape);
  std::vector<uint8_t> tmp(8);
  for (auto& v : h.v) {
    const double u = t == DType::i8 || t == DType::i32
                         ? static_cast<double>(static_cast<int>(rng() % 201) - 100)
                         : -2.0 + 4.0 * (rng() * 0x1p-32);
    store_from_double(t, tmp.data(), 0, u);
    v = load_as_double(t, tmp.data(), 0);
  }
  return h;
}

// Loose bounds: these catch wrong indexing, dropped batches and unwritten elements, not ulps.
void check_close(const HostTensor& out, const HostTensor& want, DType t, const char* op) {
  if (out.shape != want.shape) fail(std::string(op) + ": output shape differs from the reference");
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (!std::isfinite(out[i]) && std::isfinite(want[i]))
      fail(std::string(op) + ": element " + std::to_string(i) + " is " + std::to_string(out[i]) +
           ", reference " + std::to_string(want[i]));
    if (!std::isfinite(want[i])) continue;
    num += (out[i] - want[i]) * (out[i] - want[i]);
    den += want[i] * want[i];
  }
  const double tol = t == DType::f32 ? 1e-8 : t == DType::f16 ? 1e-5 : t == DType::bf16 ? 1e-3 : 0.0;
  if (num > tol * std::max(den, 1e-6))
    fail(std::string(op) + ": NMSE " + std::to_string(num / std::max(den, 1e-30)) +
         " against the reference (" + dtype_name(t) + ")");
}

std::string ref_shape(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

struct Gen {
  FuzzedDataProvider& f;
  DType floating() { return f.PickValueInArray({DType::f32, DType::f16, DType::bf16}); }
  DType any() { return f.PickValueInArray({DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32}); }
  Layout layout() {
    return f.ConsumeBool() ? Layout::contiguous
                           : f.PickValueInArray({Layout::padded, Layout::transposed, Layout::stepped});
  }
  int64_t extent() { return f.PickValueInArray<int64_t>({1, 2, 3, 5, 7, 8, 9}); }
  std::vector<int64_t> shape(int lo, int hi) {
    std::vector<int64_t> s(static_cast<size_t>(f.ConsumeIntegralInRange(lo, hi)));
    for (auto& e : s) e = extent();
    return s;
  }
  // `s` with some dims 1 and some leading dims dropped: broadcasts to s.
  std::vector<int64_t> broadcastable(const std::vector<int64_t>& s) {
    std::vector<int64_t> b(
        s.begin() + f.ConsumeIntegralInRange<int64_t>(0, static_cast<int64_t>(s.size()) - 1), s.end());
    for (auto& e : b)
      if (f.ConsumeIntegralInRange(0, 3) == 0) e = 1;
    return b;
  }
};

enum class Op {
  add,
  mul,
  silu_mul,
  gelu,
  scale,
  cast,
  copy,
  softmax,
  rms_norm,
  layer_norm,
  gemm,
  argmax,
  embedding,
  rope,
  attention,
  count
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Device dev = Device::select("cpu");
  static Stream s(dev);
  FuzzedDataProvider f(data, size);
  Gen g{f};
  std::mt19937 rng(f.ConsumeIntegral<uint32_t>());
  const auto op = static_cast<Op>(f.ConsumeIntegralInRange<int>(0, static_cast<int>(Op::count) - 1));
  const bool breaking = f.ConsumeIntegralInRange(0, 2) == 0;

  // Operand specs (inputs first, output last) and options, within each op's contract.
  std::vector<Spec> in;
  Spec out;
  ops::GemmOptions go;
  ops::RopeOptions ro;
  ops::AttentionOptions ao;
  bool approximate = f.ConsumeBool(), has_extra = f.ConsumeBool();
  float alpha = f.ConsumeFloatingPointInRange(-3.0f, 3.0f), eps = f.ConsumeFloatingPointInRange(0.0f, 0.1f);
  const char* name = "";
  switch (op) {
    case Op::add:
    case Op::mul:
    case Op::silu_mul: {
      name = op == Op::add ? "add" : op == Op::mul ? "mul" : "silu_mul";
      out = {g.shape(1, 4), g.floating(), g.layout()};
      in = {{g.broadcastable(out.shape), out.t, g.layout()}, {g.broadcastable(out.shape), out.t, g.layout()}};
      break;
    }
    case Op::gelu:
    case Op::scale:
    case Op::softmax:
    case Op::rms_norm:
    case Op::layer_norm: {
      name = op == Op::gelu       ? "gelu"
             : op == Op::scale    ? "scale"
             : op == Op::softmax  ? "softmax"
             : op == Op::rms_norm ? "rms_norm"
                                  : "layer_norm";
      out = {g.shape(1, 4), g.floating(), g.layout()};
      in = {{out.shape, out.t, g.layout()}};
      if (op == Op::softmax && has_extra)
        in.push_back({g.broadcastable(out.shape), g.floating(), g.layout()});
      if (op == Op::rms_norm || op == Op::layer_norm)
        in.push_back({{out.shape.back()}, g.floating(), g.layout()});
      if (op == Op::layer_norm && has_extra) in.push_back({{out.shape.back()}, g.floating(), g.layout()});
      break;
    }
    case Op::cast:
    case Op::copy: {
      name = op == Op::cast ? "cast" : "copy";
      out = {g.shape(1, 4), g.any(), g.layout()};
      in = {{out.shape, op == Op::cast ? g.any() : out.t, g.layout()}};
      break;
    }
    case Op::gemm: {
      name = "gemm";
      const int64_t M = g.extent(), N = g.extent(), K = g.extent();
      std::vector<int64_t> batch(static_cast<size_t>(f.ConsumeIntegralInRange(0, 2)));
      for (auto& e : batch) e = f.PickValueInArray<int64_t>({1, 2, 3});
      go.trans_a = f.ConsumeBool();
      go.trans_b = f.ConsumeBool();
      go.alpha = alpha;
      go.beta = f.ConsumeBool() ? 0.0f : f.ConsumeFloatingPointInRange(-2.0f, 2.0f);
      go.activation = f.PickValueInArray(
          {ops::Activation::none, ops::Activation::relu, ops::Activation::gelu, ops::Activation::silu});
      auto with = [&](std::vector<int64_t> b, int64_t r, int64_t c) {
        b.push_back(r);
        b.push_back(c);
        return b;
      };
      in = {{with(batch.empty() ? batch : g.broadcastable(batch), go.trans_a ? K : M, go.trans_a ? M : K),
             g.floating(), g.layout()},
            {with(batch.empty() || f.ConsumeBool() ? std::vector<int64_t>{} : g.broadcastable(batch),
                  go.trans_b ? N : K, go.trans_b ? K : N),
             g.floating(), g.layout()}};
      if (has_extra) in.push_back({{N}, g.floating(), g.layout()});
      out = {with(batch, M, N), g.floating(), g.layout()};
      break;
    }
    case Op::argmax: {
      name = "argmax";
      in = {{g.shape(1, 4), g.floating(), g.layout()}};
      out = {in[0].shape.size() == 1 ? std::vector<int64_t>{1}
                                     : std::vector<int64_t>(in[0].shape.begin(), in[0].shape.end() - 1),
             DType::i32, g.layout()};
      break;
    }
    case Op::embedding: {
      name = "embedding";
      in = {{{g.extent(), g.extent()}, g.any(), g.layout()}, {g.shape(1, 3), DType::i32, g.layout()}};
      out = {in[1].shape, in[0].t, g.layout()};
      out.shape.push_back(in[0].shape[1]);
      break;
    }
    case Op::rope: {
      name = "rope";
      const int64_t D = f.PickValueInArray<int64_t>({2, 4, 8});
      out = {{g.extent() % 3 + 1, g.extent() % 3 + 1, g.extent(), D}, g.floating(), g.layout()};
      in = {
          {out.shape, out.t, g.layout()},
          {has_extra ? std::vector<int64_t>{out.shape[0], out.shape[2]} : std::vector<int64_t>{out.shape[2]},
           DType::i32, g.layout()}};
      ro.style = f.ConsumeBool() ? ops::RopeStyle::neox : ops::RopeStyle::gptj;
      ro.theta = f.PickValueInArray({10000.0f, 500000.0f, 1.5f});
      ro.rotary_dim = f.ConsumeBool() ? 0 : 2 * f.ConsumeIntegralInRange(1, static_cast<int>(D / 2));
      break;
    }
    case Op::attention: {
      name = "attention";
      const int64_t B = f.ConsumeIntegralInRange(1, 2), Hkv = f.ConsumeIntegralInRange(1, 2),
                    Hq = Hkv * f.ConsumeIntegralInRange(1, 2), Sq = f.PickValueInArray<int64_t>({1, 2, 3, 5}),
                    Skv = f.PickValueInArray<int64_t>({1, 3, 7, 9}), D = 64;
      const DType t = g.floating();
      in = {{{B, Hq, Sq, D}, t, g.layout()},
            {{B, Hkv, Skv, D}, t, g.layout()},
            {{B, Hkv, Skv, D}, t, g.layout()}};
      if (has_extra) in.push_back({{B}, DType::i32, Layout::contiguous});
      out = {{B, Hq, Sq, D}, t, g.layout()};
      ao.causal = f.ConsumeBool();
      break;
    }
    case Op::count: return 0;
  }

  // Break one thing (the call may still be valid, e.g. an extent changed to one that broadcasts).
  int alias = -1;
  bool zero_stride = false;
  if (breaking) {
    Spec& victim =
        f.ConsumeBool() || in.empty() ? out : in[f.ConsumeIntegralInRange<size_t>(0, in.size() - 1)];
    switch (f.ConsumeIntegralInRange(0, 5)) {
      case 0:
        victim.shape[f.ConsumeIntegralInRange<size_t>(0, victim.shape.size() - 1)] +=
            f.ConsumeIntegralInRange(1, 3);
        break;
      case 1: victim.t = g.any(); break;
      case 2:
        if (victim.shape.size() < 4)
          victim.shape.insert(victim.shape.begin(), g.extent());
        else
          victim.shape.pop_back();
        break;
      case 3: alias = in.empty() ? -1 : 0; break;
      case 4: zero_stride = true; break;
      case 5:
        alpha = eps = go.alpha = ro.theta = f.PickValueInArray({NAN, INFINITY, -1.0f});
        ro.rotary_dim = f.PickValueInArray({-2, 3, 1000});
        break;
    }
  }
  // Device-resident values (attention's kv_lens) outside their contract, in broken calls only.
  const bool wild_values = breaking && f.ConsumeBool();

  g_call = name;
  for (const auto* sp : [&] {
         std::vector<const Spec*> all;
         for (const auto& x : in) all.push_back(&x);
         all.push_back(&out);
         return all;
       }())
    g_call += std::string(" ") + dtype_name(sp->t) + ref_shape(sp->shape) + "/" +
              "cpts"[static_cast<int>(sp->layout)];
  g_call += breaking ? " (broken)" : "";

  // Values, tensors, the call.
  std::vector<HostTensor> hv;
  std::vector<Placed> pin;
  for (const auto& sp : in) {
    hv.push_back(random_values(sp.shape, sp.t, rng));
    if (op == Op::embedding && &sp == &in[1])  // ids: device-resident values, some out of range
      for (auto& v : hv.back().v)
        v = static_cast<double>(static_cast<int64_t>(rng() % static_cast<uint32_t>(in[0].shape[0] + 4)) - 2);
    if (op == Op::rope && &sp == &in[1])  // positions
      for (auto& v : hv.back().v) v = static_cast<double>(rng() % 64);
    if (op == Op::attention && &sp == &in.back() && sp.t == DType::i32) {  // kv_lens: [0, Skv], or anything
      const auto skv = static_cast<uint32_t>(in[1].shape[2]);
      for (auto& v : hv.back().v)
        v = wild_values ? static_cast<double>(static_cast<int32_t>(rng())) / (rng() % 2 ? 1 : 65536)
                        : static_cast<double>(rng() % (skv + 1));
    }
    pin.push_back(place(s, sp, &hv.back()));
  }
  HostTensor c_in;
  if (op == Op::gemm && go.beta != 0.0f) c_in = random_values(out.shape, out.t, rng);
  Placed pout = place(s, out, op == Op::gemm && go.beta != 0.0f ? &c_in : nullptr);
  Tensor o = pout.view;
  if (alias >= 0) o = pin[static_cast<size_t>(alias)].view;
  if (zero_stride && o.rank() >= 1 && o.dim(0) > 1) {
    Shape st = o.strides();
    st[0] = 0;
    o = o.view(o.shape(), st, o.offset_bytes());
  }
  auto I = [&](size_t i) -> const Tensor& { return pin[i].view; };
  bool ran = false;
  try {
    switch (op) {
      case Op::add: ops::add(s, I(0), I(1), o); break;
      case Op::mul: ops::mul(s, I(0), I(1), o); break;
      case Op::silu_mul: ops::silu_mul(s, I(0), I(1), o); break;
      case Op::gelu: ops::gelu(s, I(0), o, approximate); break;
      case Op::scale: ops::scale(s, I(0), alpha, o); break;
      case Op::cast: ops::cast(s, I(0), o); break;
      case Op::copy: ops::copy(s, I(0), o); break;
      case Op::softmax: ops::softmax(s, I(0), o, alpha, in.size() > 1 ? &I(1) : nullptr); break;
      case Op::rms_norm: ops::rms_norm(s, I(0), I(1), o, eps); break;
      case Op::layer_norm: ops::layer_norm(s, I(0), I(1), in.size() > 2 ? &I(2) : nullptr, o, eps); break;
      case Op::gemm:
        go.bias = in.size() > 2 ? &I(2) : nullptr;
        ops::gemm(s, I(0), I(1), o, go);
        break;
      case Op::argmax: ops::argmax(s, I(0), o); break;
      case Op::embedding: ops::embedding(s, I(0), I(1), o); break;
      case Op::rope: ops::rope(s, I(0), I(1), o, ro); break;
      case Op::attention:
        ao.kv_lens = in.size() > 3 ? &I(3) : nullptr;
        ops::attention(s, I(0), I(1), I(2), o, ao);
        break;
      case Op::count: break;
    }
    s.synchronize();
    ran = true;
  } catch (const Error& e) {
    if (!breaking) fail(std::string(name) + " refused a call within its contract: " + e.what());
    if (std::string(e.what()).find(name) == std::string::npos)
      fail(std::string("error does not name the op ") + name + ": " + e.what());
  }
  for (size_t i = 0; i < pin.size(); ++i)
    if (static_cast<int>(i) != alias) check_guards(s, pin[i], name);  // inputs are read-only
  if (alias < 0) check_guards(s, pout, name);
  if (breaking || !ran) {
    // The device still works after whatever happened.
    Tensor t = Tensor::empty(dev, DType::f32, {3});
    ops::fill(s, t, 2.5);
    float back[3] = {};
    t.copy_to_host(s, back);
    if (back[0] != 2.5f || back[2] != 2.5f) fail("device unusable after a broken call");
    return 0;
  }

  // Within the contract: compare with the float64 reference.
  const HostTensor got = read(s, pout.view);
  HostTensor want;
  switch (op) {
    case Op::add: want = ref::binary(ref::Binary::add, hv[0], hv[1], out.shape); break;
    case Op::mul: want = ref::binary(ref::Binary::mul, hv[0], hv[1], out.shape); break;
    case Op::silu_mul: want = ref::binary(ref::Binary::silu_mul, hv[0], hv[1], out.shape); break;
    case Op::gelu:
      want = ref::unary(approximate ? ref::Unary::gelu_tanh : ref::Unary::gelu_erf, hv[0]);
      break;
    case Op::scale: want = ref::unary(ref::Unary::scale, hv[0], alpha); break;
    case Op::cast: want = ref::cast(hv[0], out.t); break;
    case Op::copy: want = hv[0]; break;
    case Op::softmax: want = ref::softmax(hv[0], alpha, in.size() > 1 ? &hv[1] : nullptr); break;
    case Op::rms_norm: want = ref::rms_norm(hv[0], hv[1], eps); break;
    case Op::layer_norm: want = ref::layer_norm(hv[0], hv[1], in.size() > 2 ? &hv[2] : nullptr, eps); break;
    case Op::gemm: {
      HostTensor a = hv[0], b = hv[1];
      auto t_last = [](const HostTensor& x) {
        auto sh = x.shape;
        std::swap(sh[sh.size() - 1], sh[sh.size() - 2]);
        HostTensor y(sh);
        const int64_t R = x.shape[x.shape.size() - 2], C = x.shape.back(), B = x.numel() / (R * C);
        for (int64_t bb = 0; bb < B; ++bb)
          for (int64_t i = 0; i < R; ++i)
            for (int64_t j = 0; j < C; ++j) y[(bb * C + j) * R + i] = x[(bb * R + i) * C + j];
        return y;
      };
      if (go.trans_a) a = t_last(a);
      if (go.trans_b) b = t_last(b);
      want = ref::gemm(a, b, c_in, out.shape, go.alpha, go.beta, in.size() > 2 ? &hv[2] : nullptr,
                       go.activation);
      break;
    }
    case Op::argmax: {
      const auto idx = ref::argmax(hv[0]);
      want = HostTensor(out.shape);
      for (size_t i = 0; i < idx.size(); ++i) want.v[i] = idx[i];
      break;
    }
    case Op::embedding: {
      std::vector<int32_t> ids(hv[1].v.begin(), hv[1].v.end());
      want = ref::embedding(hv[0], ids, in[1].shape);
      break;
    }
    case Op::rope: {
      std::vector<int32_t> pos(hv[1].v.begin(), hv[1].v.end());
      want = ref::rope(hv[0], pos, in[1].shape.size() == 2, ro.style, ro.theta,
                       ro.rotary_dim == 0 ? static_cast<int>(out.shape[3]) : ro.rotary_dim);
      break;
    }
    case Op::attention: {
      std::vector<int32_t> lens;
      if (in.size() > 3) lens.assign(hv[3].v.begin(), hv[3].v.end());
      want = ref::attention(hv[0], hv[1], hv[2], ao.causal, 1.0 / std::sqrt(64.0),
                            lens.empty() ? nullptr : &lens);
      break;
    }
    case Op::count: break;
  }
  auto exact = [&] {
    for (size_t i = 0; i < want.v.size(); ++i)
      if (!(got.v[i] == want.v[i] || (std::isnan(got.v[i]) && std::isnan(want.v[i]))))
        fail(std::string(name) + ": element " + std::to_string(i) + " of " + dtype_name(out.t) +
             ref_shape(out.shape) + " is " + std::to_string(got.v[i]) + ", exact reference " +
             std::to_string(want.v[i]));
  };
  if (!is_floating(out.t) || op == Op::copy || op == Op::embedding ||
      (op == Op::cast && !is_floating(in[0].t))) {
    exact();
  } else {
    check_close(got, want, out.t, name);
  }
  return 0;
}
