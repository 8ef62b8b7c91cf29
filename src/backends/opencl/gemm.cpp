// gemm: picks the small-M (GEMV) kernel for decode shapes with K-contiguous weights, else
// the register-tiled kernel; B with strided rows is first packed into [K, N] rows so the
// tiled kernel's vector loads apply; split-K when the output has too few tiles to fill
// the device. Kernel parameters come from the device tuning table.
#include <algorithm>
#include <climits>

#include "backends/opencl/queue.h"

namespace porta::opencl {

namespace {

cl_int act_code(ops::Activation a) {
  switch (a) {
    case ops::Activation::relu: return 1;
    case ops::Activation::gelu: return 2;
    case ops::Activation::silu: return 3;
    default: return 0;
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Bias operand: (mem, offset, stride, dtype code or -1 when absent).
struct BiasArg {
  cl_mem mem;
  cl_long offset = 0, stride = 0;
  cl_int dtype = -1;
};

BiasArg bias_arg(const backend::GemmArgs& g) {
  BiasArg b;
  b.mem = mem_of(g.c);  // any valid buffer when absent (never read)
  if (g.bias) {
    b.mem = mem_of(*g.bias);
    b.offset = g.bias->offset;
    b.stride = g.bias->strides[0];
    b.dtype = static_cast<cl_int>(g.bias->dtype);
  }
  return b;
}

}  // namespace

void ClQueue::gemm(const backend::GemmArgs& g) {
  const int64_t batch = g.c.shape[0], M = g.c.shape[1], N = g.c.shape[2], K = g.a.shape[2];
  if (batch == 0 || M == 0 || N == 0) return;
  if (batch > INT_MAX || M > INT_MAX || N > INT_MAX || K > INT_MAX)
    throw Error(Errc::unsupported, "opencl: gemm with batch " + std::to_string(batch) + ", M " +
                                       std::to_string(M) + ", N " + std::to_string(N) + ", K " +
                                       std::to_string(K) +
                                       ": each extent must stay below 2^31 on this backend");
  const GemmParams& p = dev_.tuning().gemm;
  const std::string dtypes = dtype_define("A", g.a.dtype) + dtype_define("B", g.b.dtype);
  if (M <= p.small_m_max && g.b.strides[1] == 1 && K >= p.small_m_vec) {
    gemm_small_m(g, dtypes);
    return;
  }
  if (dev_.tuning().cls == DeviceClass::gpu) {
    gemm_tiled(g, dtypes, view4(g.b));  // local-memory kernel: any strides, converts while staging
    return;
  }
  // Half inputs of a large GEMM: converting A and B to f32 once costs O(MK + KN) and lets the
  // f32 kernel run (f16/bf16 loads in the inner loop cost a conversion per element per tile).
  const bool half_in = g.a.dtype != DType::f32 || g.b.dtype != DType::f32;
  if (half_in && M * N * K >= int64_t{1} << 21 && M >= 64) {
    const View4 a32 = g.a.dtype == DType::f32 ? view4(g.a) : to_f32(g.a, 2);
    const View4 b32 = g.b.dtype == DType::f32 && g.b.strides[2] == 1 ? view4(g.b) : to_f32(g.b, 0);
    gemm_tiled(g, dtype_define("A", DType::f32) + dtype_define("B", DType::f32), b32, &a32);
    return;
  }
  if (g.b.strides[2] != 1 && N > 1) {
    gemm_tiled(g, dtypes, pack_b(g.b));
    return;
  }
  gemm_tiled(g, dtypes, view4(g.b));
}

View4 ClQueue::to_f32(const backend::TensorArg& t, int slot) {
  const int64_t nb = t.strides[0] == 0 ? 1 : t.shape[0], R = t.shape[1], C = t.shape[2];
  View4 src = view4(t);
  src.shape.s[1] = nb;
  View4 dst;
  dst.mem = scratch(slot, static_cast<uint64_t>(nb * R * C) * sizeof(float));
  dst.dtype = DType::f32;
  dst.shape = src.shape;
  dst.stride.s[0] = 0;
  dst.stride.s[1] = R * C;
  dst.stride.s[2] = C;
  dst.stride.s[3] = 1;
  const RowColRange rc = row_col_range(src.shape, dev_.tuning().cls == DeviceClass::cpu);
  Launch(kernel("elementwise", base_options(dev_), "cast"), "gemm (converting an operand to f32)")
      .arg(src.shape)
      .tensor(src)
      .arg(cl_int{static_cast<int>(t.dtype)})
      .tensor(dst)
      .arg(cl_int{static_cast<int>(DType::f32)})
      .run(q_, 2, rc.global, rc.local);
  dst.stride.s[1] = nb == 1 ? 0 : R * C;
  return dst;
}

// B [batch_b, K, N] with any strides -> contiguous [K, N] rows in scratch slot 0, same dtype.
// A broadcast batch (stride 0) is packed once and stays broadcast.
View4 ClQueue::pack_b(const backend::TensorArg& b) {
  const int64_t nb = b.strides[0] == 0 ? 1 : b.shape[0], K = b.shape[1], N = b.shape[2];
  const size_t esize = dtype_size(b.dtype);
  View4 src = view4(b);
  src.shape.s[1] = nb;
  View4 out;
  out.mem = scratch(0, static_cast<uint64_t>(nb * K * N) * esize);
  out.dtype = b.dtype;
  out.shape = src.shape;
  out.stride.s[0] = 0;
  out.stride.s[1] = nb == 1 ? 0 : K * N;
  out.stride.s[2] = N;
  out.stride.s[3] = 1;
  View4 dst = out;
  dst.stride.s[1] = K * N;
  copy_view(src, dst, esize, "gemm (packing B)");
  return out;
}

void ClQueue::gemm_tiled(const backend::GemmArgs& g, const std::string& dtypes, const View4& b,
                         const View4* a_override) {
  const GemmParams& p = dev_.tuning().gemm;
  const int64_t batch = g.c.shape[0], M = g.c.shape[1], N = g.c.shape[2], K = g.a.shape[2];
  const bool local_tiles = dev_.tuning().cls == DeviceClass::gpu;
  // The local-memory kernel's block is (WG_M*4) x (WG_N*4); the register kernel's TM x (VN*NV).
  const int tm = local_tiles ? p.wg_m * 4 : p.tile_m;
  const int tn = local_tiles ? p.wg_n * 4 : p.vec_n * p.vecs_n;
  const std::string opts = base_options(dev_) + dtypes + " -DTM=" + std::to_string(p.tile_m) +
                           " -DVN=" + std::to_string(p.vec_n) + " -DNV=" + std::to_string(p.vecs_n) +
                           " -DWG_M=" + std::to_string(p.wg_m) + " -DWG_N=" + std::to_string(p.wg_n);
  const View4 a = a_override ? *a_override : view4(g.a), c = view4(g.c);
  const BiasArg bias = bias_arg(g);
  // Split K when the tiles cannot occupy the device and each split keeps a deep K loop.
  const int64_t tiles = batch * ceil_div(M, tm) * ceil_div(N, tn);
  const int64_t want = dev_.tuning().cls == DeviceClass::cpu ? 4 * dev_.traits().partition_units
                                                             : 64 * dev_.traits().partition_units;
  int64_t splits = 1;
  if (tiles < want && K >= 512) splits = std::min<int64_t>({ceil_div(want, tiles), K / 256, 16});
  cl_mem work = c.mem;
  if (splits > 1) work = scratch(1, static_cast<uint64_t>(splits * batch * M * N) * sizeof(float));
  const size_t local[3] = {static_cast<size_t>(p.wg_m), static_cast<size_t>(p.wg_n), 1};
  // Global sizes count work-items: blocks x group size for the local kernel, tiles otherwise.
  const size_t global[3] = {static_cast<size_t>(ceil_div(M, tm)) * (local_tiles ? local[0] : 1),
                            static_cast<size_t>(ceil_div(N, tn)) * (local_tiles ? local[1] : 1),
                            static_cast<size_t>(batch * splits)};
  Launch launch(kernel("gemm_tiled", opts, local_tiles ? "gemm_local" : "gemm_tiled"), "gemm");
  launch.arg(cl_int{static_cast<int>(M)})
      .arg(cl_int{static_cast<int>(N)})
      .arg(cl_int{static_cast<int>(K)})
      .arg(cl_int{static_cast<int>(batch)})
      .arg(cl_int{static_cast<int>(splits)});
  if (!local_tiles) launch.arg(cl_int{b.st(3) == 1 ? 1 : 0});
  launch.arg(cl_float{g.alpha})
      .arg(cl_float{g.beta})
      .arg(act_code(g.activation))
      .tensor(a)
      .tensor(b)
      .tensor(c)
      .arg(cl_int{static_cast<int>(c.dtype)})
      .arg(bias.mem)
      .arg(bias.offset)
      .arg(bias.stride)
      .arg(bias.dtype)
      .arg(work)
      .run(q_, 3, global, local);
  if (splits == 1) return;
  const size_t rglobal = grid_items(batch * M * N), rlocal = kGroup;
  Launch(kernel("gemm_tiled", opts, "gemm_splitk_reduce"), "gemm (split-K reduction)")
      .arg(cl_int{static_cast<int>(M)})
      .arg(cl_int{static_cast<int>(N)})
      .arg(cl_int{static_cast<int>(batch)})
      .arg(cl_int{static_cast<int>(splits)})
      .arg(cl_float{g.alpha})
      .arg(cl_float{g.beta})
      .arg(act_code(g.activation))
      .arg(c.mem)
      .arg(c.offset)
      .arg(c.stride)
      .arg(cl_int{static_cast<int>(c.dtype)})
      .arg(bias.mem)
      .arg(bias.offset)
      .arg(bias.stride)
      .arg(bias.dtype)
      .arg(work)
      .run(q_, 1, &rglobal, &rlocal);
}

void ClQueue::gemm_small_m(const backend::GemmArgs& g, const std::string& dtypes) {
  const GemmParams& p = dev_.tuning().gemm;
  const int64_t batch = g.c.shape[0], M = g.c.shape[1], N = g.c.shape[2], K = g.a.shape[2];
  const std::string opts = base_options(dev_) + dtypes + " -DRM=" + std::to_string(p.small_m_rows) +
                           " -DVK=" + std::to_string(p.small_m_vec);
  const View4 a = view4(g.a), b = view4(g.b), c = view4(g.c);
  const BiasArg bias = bias_arg(g);
  const size_t local[3] = {static_cast<size_t>(dev_.tuning().cls == DeviceClass::cpu ? 8 : 64), 1, 1};
  const size_t global[3] = {static_cast<size_t>(N), static_cast<size_t>(ceil_div(M, p.small_m_rows)),
                            static_cast<size_t>(batch)};
  Launch(kernel("gemm_small_m", opts, "gemm_small_m"), "gemm (small M)")
      .arg(cl_int{static_cast<int>(M)})
      .arg(cl_int{static_cast<int>(N)})
      .arg(cl_int{static_cast<int>(K)})
      .arg(cl_int{static_cast<int>(batch)})
      .arg(cl_int{a.st(3) == 1 ? 1 : 0})
      .arg(cl_float{g.alpha})
      .arg(cl_float{g.beta})
      .arg(act_code(g.activation))
      .tensor(a)
      .tensor(b)
      .tensor(c)
      .arg(cl_int{static_cast<int>(c.dtype)})
      .arg(bias.mem)
      .arg(bias.offset)
      .arg(bias.stride)
      .arg(bias.dtype)
      .run(q_, 3, global, local);
}

}  // namespace porta::opencl
