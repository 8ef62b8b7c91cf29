// Bandwidth-bound ops on LLM-sized activations, reported in GB/s of bytes read
// plus bytes written (the traffic an ideal kernel cannot avoid). Every f32
// tensor is ~128 MiB, so the data does not stay in the last-level cache (at
// 64 MiB a copy still ran 20-40 % above the 256 MiB memcpy rate here).
#include <vector>

#include "bench_common.h"

namespace porta_bench {
namespace {

using porta::DType;
using porta::Tensor;

struct ElementwiseCase {
  std::string op;
  DType dtype;
  porta::Shape shape;
};

double bytes_of(const Tensor& t) { return static_cast<double>(t.nbytes()); }

// Sets up the op's tensors and returns (the enqueue function, bytes moved per call).
std::pair<std::function<void()>, double> make_op(const ElementwiseCase& c) {
  porta::Stream& s = env().stream();
  const porta::Device& dev = env().device;
  const int64_t cols = c.shape[c.shape.rank - 1];
  auto x = std::make_shared<Tensor>(random_tensor(c.dtype, c.shape, 31));
  auto out = std::make_shared<Tensor>(Tensor::empty(dev, c.dtype, c.shape));
  if (c.op == "rms_norm") {
    auto w = std::make_shared<Tensor>(random_tensor(c.dtype, {cols}, 32, 0.5f, 1.5f));
    return {[&s, x, w, out] { porta::ops::rms_norm(s, *x, *w, *out); }, 2 * bytes_of(*x) + bytes_of(*w)};
  }
  if (c.op == "silu_mul" || c.op == "add") {
    auto y = std::make_shared<Tensor>(random_tensor(c.dtype, c.shape, 33));
    const bool silu = c.op == "silu_mul";
    return {[&s, x, y, out, silu] {
              if (silu)
                porta::ops::silu_mul(s, *x, *y, *out);
              else
                porta::ops::add(s, *x, *y, *out);
            },
            3 * bytes_of(*x)};
  }
  if (c.op == "rope") {  // x [B, H, S, D] with positions [S]
    std::vector<int32_t> pos(static_cast<size_t>(c.shape[2]));
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
    auto p = std::make_shared<Tensor>(Tensor::from_host(s, DType::i32, {c.shape[2]}, pos.data()));
    return {[&s, x, p, out] { porta::ops::rope(s, *x, *p, *out); }, 2 * bytes_of(*x) + bytes_of(*p)};
  }
  if (c.op == "softmax") {
    return {[&s, x, out] { porta::ops::softmax(s, *x, *out, 0.125f); }, 2 * bytes_of(*x)};
  }
  if (c.op == "copy") {
    return {[&s, x, out] { porta::ops::copy(s, *x, *out); }, 2 * bytes_of(*x)};
  }
  if (c.op == "copy_transposed") {  // strided read: materialises xᵀ
    auto xt = std::make_shared<Tensor>(x->transpose(0, 1));
    auto o = std::make_shared<Tensor>(Tensor::empty(dev, c.dtype, xt->shape()));
    return {[&s, xt, o] { porta::ops::copy(s, *xt, *o); }, 2 * bytes_of(*x)};
  }
  if (c.op == "cast_bf16") {
    auto o = std::make_shared<Tensor>(Tensor::empty(dev, DType::bf16, c.shape));
    return {[&s, x, o] { porta::ops::cast(s, *x, *o); }, bytes_of(*x) + bytes_of(*o)};
  }
  throw std::logic_error("unknown elementwise op " + c.op);
}

void bench_elementwise(benchmark::State& state, const ElementwiseCase& c) {
  std::pair<std::function<void()>, double> op;
  try {
    op = make_op(c);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double seconds = run_timed(state, op.first);
  if (seconds <= 0) return;
  set_bytes_counters(state, op.second, seconds);
}

}  // namespace

void register_elementwise_suite() {
  const porta::Shape act{8192, 4096};          // 8192 tokens x hidden 4096
  const porta::Shape ffn{2048, 14336};         // 2048 tokens x FFN width
  const porta::Shape heads{1, 32, 8192, 128};  // q of 8192 tokens, 32 heads of 128
  std::vector<ElementwiseCase> cases = {
      {"rms_norm", DType::f32, act},        {"silu_mul", DType::f32, ffn},  {"add", DType::f32, act},
      {"rope", DType::f32, heads},          {"softmax", DType::f32, act},   {"copy", DType::f32, act},
      {"copy_transposed", DType::f32, act}, {"cast_bf16", DType::f32, act},
  };
  if (!env().quick) {
    for (const char* op : {"rms_norm", "silu_mul", "add", "rope", "copy"}) {
      for (DType d : {DType::f16, DType::bf16}) {
        ElementwiseCase c = cases[0];
        for (const auto& base : cases)
          if (base.op == op) c = base;
        c.dtype = d;
        cases.push_back(c);
      }
    }
  }
  for (const auto& c : cases) {
    std::string dims;
    for (int i = 0; i < c.shape.rank; ++i) dims += (i ? "x" : "") + std::to_string(c.shape[i]);
    const std::string name = "elementwise/" + c.op + "/" + dt(c.dtype) + "/" + dims;
    register_bench(name, [c](benchmark::State& st) { bench_elementwise(st, c); });
  }
}

}  // namespace porta_bench
