// Quantized weights on OpenCL (kernels/opencl/quant.cl). The device layout is the host
// canonical one: nothing is repacked at upload. gemm with M <= kGemvMaxM streams the packed
// codes (qgemv); larger M dequantizes blocks of weight rows into a transposed f32 scratch
// [K, rows] (the act-order permutation undone there) and runs the dense gemm_tiled kernel on
// each block, writing the block's columns of C with the dense epilogue.
#include <algorithm>
#include <climits>

#include "backends/opencl/queue.h"

namespace porta::opencl {

namespace {

constexpr int64_t kGemvMaxM = 16;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

cl_int act_code(ops::Activation a) {
  switch (a) {
    case ops::Activation::relu: return 1;
    case ops::Activation::gelu: return 2;
    case ops::Activation::silu: return 3;
    default: return 0;
  }
}

void check_extents(const char* op, int64_t rows, int64_t k) {
  if (rows > INT_MAX || k > INT_MAX)
    throw Error(Errc::unsupported, std::string("opencl: ") + op + " with " + std::to_string(rows) +
                                       " rows and K " + std::to_string(k) +
                                       ": each extent must stay below 2^31 on this backend");
}

/// Elements per scale as the kernels take it: K itself for per-channel / per-tensor.
int eff_group(const backend::QuantWeightArg& w) { return w.group > 0 ? w.group : static_cast<int>(w.k); }

/// Pushes quant.cl's QWEIGHT arguments.
void push_weight(Launch& l, const backend::QuantWeightArg& w) {
  const bool per_tensor = w.group == QuantScheme::kPerTensor;
  l.arg(mem_of(w.codes)).arg(cl_long{w.codes.offset}).arg(cl_long{w.codes.strides[0]});
  l.arg(mem_of(w.scales))
      .arg(cl_long{w.scales.offset})
      .arg(cl_long{per_tensor ? 0 : w.scales.strides[0]})
      .arg(cl_long{per_tensor ? 0 : w.scales.strides[1]})
      .arg(cl_int{static_cast<int>(w.scales.dtype)});
  const backend::TensorArg& z = w.zeros ? *w.zeros : w.scales;  // never read without zeros
  l.arg(mem_of(z))
      .arg(cl_long{z.offset})
      .arg(cl_long{w.zeros ? z.strides[0] : 0})
      .arg(cl_long{w.zeros ? z.strides[1] : 0});
  l.arg(cl_int{static_cast<int>(w.k)}).arg(cl_int{eff_group(w)});
}

/// quant.cl's options. Every op shares one program per (format, activation dtype, perm, rows):
/// quantize / dequantize / embedding ask for the f32, no-perm, 1-row one, so a cold kernel
/// cache compiles few programs.
std::string quant_options(const ClDevice& dev, QuantFormat f, DType act = DType::f32, bool perm = false,
                          int mr = 1) {
  const QuantParams& p = dev.tuning().quant;
  return base_options(dev) + " -DQF=" + std::to_string(static_cast<int>(f)) + dtype_define("A", act) +
         " -DMR=" + std::to_string(mr) + " -DHAS_PERM=" + (perm ? "1" : "0") +
         " -DQSPLIT=" + std::to_string(p.gemv_split) + " -DQLOCAL=" + std::to_string(p.gemv_local) +
         " -DQV=" + std::to_string(p.gemv_vec);
}

}  // namespace

/// Where qdequant writes: out[r * rs + col * cs] for rows r < rows of the weight (row0 + r,
/// or ids[r]), col the element (perm[j] when `perm`).
struct ClQueue::DequantTarget {
  cl_mem mem;
  cl_long offset = 0, rs = 0, cs = 0;
  DType dtype = DType::f32;
  int64_t rows = 0, row0 = 0;
  const backend::TensorArg* ids = nullptr;
  const backend::TensorArg* perm = nullptr;
};

void ClQueue::dequant_rows(const backend::QuantWeightArg& w, const DequantTarget& t) {
  if (t.rows == 0 || w.k == 0) return;
  check_extents("dequantize", t.rows, w.k);
  const std::string opts = quant_options(dev_, w.format, DType::f32, t.perm != nullptr);
  Launch l(kernel("quant", opts, "qdequant"), "dequantize");
  l.arg(cl_int{static_cast<int>(t.rows)});
  push_weight(l, w);
  l.arg(t.mem).arg(t.offset).arg(t.rs).arg(t.cs).arg(cl_int{static_cast<int>(t.dtype)});
  const backend::TensorArg* ids = t.ids ? t.ids : &w.codes;  // never read without ids
  l.arg(cl_int{t.ids ? 1 : 0})
      .arg(mem_of(*ids))
      .arg(cl_long{ids->offset})
      .arg(cl_long{t.ids ? ids->strides[0] : 0});
  l.arg(cl_long{t.row0}).arg(cl_long{w.n});
  const backend::TensorArg* perm = t.perm ? t.perm : &w.codes;
  l.arg(mem_of(*perm)).arg(cl_long{perm->offset}).arg(cl_long{t.perm ? perm->strides[0] : 0});
  const bool cpu = dev_.tuning().cls == DeviceClass::cpu;
  const size_t local[2] = {cpu ? 1u : 64u, 1};
  const size_t global[2] = {round_up(static_cast<size_t>(ceil_div(w.k, 8)), local[0]),
                            static_cast<size_t>(t.rows)};
  l.run(q_, 2, global, local);
}

void ClQueue::dequantize(const backend::DequantizeArgs& a) {
  DequantTarget t;
  t.mem = mem_of(a.out);
  t.offset = a.out.offset;
  t.rs = a.out.strides[0];
  t.cs = a.out.strides[1];
  t.dtype = a.out.dtype;
  t.rows = a.w.n;
  dequant_rows(a.w, t);  // code-column order: the permutation is not undone
}

void ClQueue::embedding_quant(const backend::QuantEmbeddingArgs& e) {
  DequantTarget t;
  t.mem = mem_of(e.out);
  t.offset = e.out.offset;
  t.rs = e.out.strides[0];
  t.cs = e.out.strides[1];
  t.dtype = e.out.dtype;
  t.rows = e.ids.shape[0];
  t.ids = &e.ids;
  dequant_rows(e.table, t);
}

void ClQueue::quantize(const backend::QuantizeArgs& a) {
  const backend::QuantWeightArg& o = a.out;
  const int64_t N = o.n, K = o.k;
  if (N == 0 || K == 0) return;
  check_extents("quantize", N, K);
  const int group = eff_group(o);
  const int64_t G = ceil_div(K, group);
  const bool per_tensor = o.group == QuantScheme::kPerTensor;
  const std::string opts = quant_options(dev_, o.format);
  const cl_mem w = mem_of(a.w);
  const cl_long w_off = a.w.offset, w_rs = a.w.strides[0], w_cs = a.w.strides[1];
  const cl_int w_dt = static_cast<int>(a.w.dtype);
  if (per_tensor) {  // the largest row scale, rounded, before any code is computed
    const cl_mem rowmax = scratch(3, static_cast<uint64_t>(N) * sizeof(float));
    const size_t rl = 1, rg = static_cast<size_t>(N);
    Launch(kernel("quant", opts, "qquant_rowmax"), "quantize (row scales)")
        .arg(cl_int{static_cast<int>(N)})
        .arg(cl_int{static_cast<int>(K)})
        .arg(w)
        .arg(w_off)
        .arg(w_rs)
        .arg(w_cs)
        .arg(w_dt)
        .arg(rowmax)
        .run(q_, 1, &rg, &rl);
    const size_t tl = 64, tg = 64;
    Launch(kernel("quant", opts, "qquant_tensor_scale"), "quantize (tensor scale)")
        .arg(cl_int{static_cast<int>(N)})
        .arg(rowmax)
        .arg(mem_of(o.scales))
        .arg(cl_long{o.scales.offset})
        .arg(cl_int{static_cast<int>(o.scales.dtype)})
        .run(q_, 1, &tg, &tl);
  }
  Launch l(kernel("quant", opts, "qquantize"), "quantize");
  l.arg(cl_int{static_cast<int>(N)})
      .arg(cl_int{static_cast<int>(G)})
      .arg(cl_int{per_tensor ? 1 : 0})
      .arg(w)
      .arg(w_off)
      .arg(w_rs)
      .arg(w_cs)
      .arg(w_dt);
  push_weight(l, o);
  const size_t local[2] = {1, 1};
  const size_t global[2] = {static_cast<size_t>(G), static_cast<size_t>(N)};
  l.run(q_, 2, global, local);
}

void ClQueue::gemm_quant(const backend::QuantGemmArgs& g) {
  const int64_t M = g.a.shape[0], N = g.w.n, K = g.w.k;
  if (M == 0 || N == 0) return;
  check_extents("gemm", std::max(M, N), K);
  if (M <= kGemvMaxM)
    gemm_quant_gemv(g);
  else
    gemm_quant_blocked(g);
}

void ClQueue::gemm_quant_gemv(const backend::QuantGemmArgs& g) {
  const QuantParams& p = dev_.tuning().quant;
  const int64_t M = g.a.shape[0], N = g.w.n;
  const int mr = M == 1 ? 1 : 4;  // rows per work-item; more rows take more row blocks
  // A unit never straddles two groups: the group size (a multiple of 32) or the row.
  const int unit = g.w.group > 0 ? std::min(p.gemv_unit, g.w.group) : p.gemv_unit;
  const std::string opts = quant_options(dev_, g.w.format, g.a.dtype, g.w.perm != nullptr, mr);
  Launch l(kernel("quant", opts, "qgemv"), "gemm (quantized weight, small M)");
  l.arg(cl_int{static_cast<int>(M)})
      .arg(cl_int{static_cast<int>(N)})
      .arg(cl_int{unit})
      .arg(cl_float{g.alpha})
      .arg(cl_float{g.beta})
      .arg(act_code(g.activation))
      .arg(mem_of(g.a))
      .arg(cl_long{g.a.offset})
      .arg(cl_long{g.a.strides[0]})
      .arg(cl_long{g.a.strides[1]});
  push_weight(l, g.w);
  const backend::TensorArg* perm = g.w.perm ? g.w.perm : &g.a;
  l.arg(mem_of(*perm)).arg(cl_long{perm->offset}).arg(cl_long{g.w.perm ? perm->strides[0] : 0});
  l.arg(mem_of(g.c))
      .arg(cl_long{g.c.offset})
      .arg(cl_long{g.c.strides[0]})
      .arg(cl_long{g.c.strides[1]})
      .arg(cl_int{static_cast<int>(g.c.dtype)});
  const backend::TensorArg* bias = g.bias ? g.bias : &g.c;
  l.arg(mem_of(*bias))
      .arg(cl_long{bias->offset})
      .arg(cl_long{g.bias ? bias->strides[0] : 0})
      .arg(cl_int{g.bias ? static_cast<int>(g.bias->dtype) : -1});
  const size_t local[2] = {static_cast<size_t>(p.gemv_local), 1};
  const size_t global[2] = {round_up(static_cast<size_t>(N * p.gemv_split), local[0]),
                            static_cast<size_t>(ceil_div(M, mr))};
  l.run(q_, 2, global, local);
}

void ClQueue::gemm_quant_blocked(const backend::QuantGemmArgs& g) {
  const QuantParams& p = dev_.tuning().quant;
  const int64_t M = g.a.shape[0], N = g.w.n, K = g.w.k;
  // Rows per block: the scratch budget (and the device's largest allocation), whole multiples of 64.
  const int64_t budget = std::min<int64_t>(p.block_bytes, static_cast<int64_t>(dev_.traits().max_alloc) / 2);
  int64_t rows = std::max<int64_t>(64, budget / std::max<int64_t>(1, K * 4) / 64 * 64);
  rows = std::min(rows, N);
  const cl_mem block = scratch(3, static_cast<uint64_t>(rows * std::max<int64_t>(K, 1)) * sizeof(float));
  // Dense operands as [1, M, K] / [1, M, rows]; A converted to f32 once on CPU devices (half
  // loads in the tiled kernel's inner loop cost a conversion per element per tile).
  backend::GemmArgs d;
  d.a = g.a;
  d.a.rank = 3;
  d.a.shape[0] = 1, d.a.shape[1] = M, d.a.shape[2] = K;
  d.a.strides[0] = 0, d.a.strides[1] = g.a.strides[0], d.a.strides[2] = g.a.strides[1];
  d.alpha = g.alpha;
  d.beta = g.beta;
  d.activation = g.activation;
  View4 a32;
  const bool convert_a = dev_.tuning().cls == DeviceClass::cpu && g.a.dtype != DType::f32;
  if (convert_a) a32 = to_f32(d.a, 2);
  const std::string dtypes =
      dtype_define("A", convert_a ? DType::f32 : g.a.dtype) + dtype_define("B", DType::f32);
  const size_t csize = dtype_size(g.c.dtype);
  for (int64_t n0 = 0; n0 < N; n0 += rows) {
    const int64_t nb = std::min(rows, N - n0);
    DequantTarget t;  // block^T: [K, nb] f32, element (row r, col j) at j * nb + r
    t.mem = block;
    t.rs = 1;
    t.cs = nb;
    t.rows = nb;
    t.row0 = n0;
    t.perm = g.w.perm;
    dequant_rows(g.w, t);
    View4 b;
    b.mem = block;
    b.dtype = DType::f32;
    b.shape = {{1, 1, K, nb}};
    b.stride = {{0, 0, nb, 1}};
    d.c = g.c;
    d.c.rank = 3;
    d.c.shape[0] = 1, d.c.shape[1] = M, d.c.shape[2] = nb;
    d.c.strides[0] = 0, d.c.strides[1] = g.c.strides[0], d.c.strides[2] = g.c.strides[1];
    d.c.offset = g.c.offset + n0 * g.c.strides[1] * static_cast<int64_t>(csize);
    backend::TensorArg bias;
    d.bias = nullptr;
    if (g.bias) {
      bias = *g.bias;
      bias.shape[0] = nb;
      bias.offset += n0 * bias.strides[0] * static_cast<int64_t>(dtype_size(bias.dtype));
      d.bias = &bias;
    }
    d.b.dtype = DType::f32;
    gemm_tiled(d, dtypes, b, convert_a ? &a32 : nullptr);
  }
}

}  // namespace porta::opencl
