// Quantized weights on Vulkan (kernels/vulkan/quant_*.comp). The device layout is the host
// canonical one: nothing is repacked at upload. gemm with M <= kGemvMaxM streams the packed
// codes (quant_gemv); larger M, or a K whose GEMV loop would pass llvmpipe's loop budget,
// dequantizes blocks of weight rows into a transposed f32 buffer [K, rows] (act-order
// permutation undone there) and runs the dense op_gemm on each block, which writes that
// block's columns of C with the dense epilogue (and handles long K in passes).
#include <algorithm>

#include "../../../kernels/vulkan/quant_push.h"
#include "backends/vulkan/ops.h"

namespace porta::vk {
namespace {

#define PORTA_PUSH_U32(n) uint32_t n;
#define PORTA_PUSH_F32(n) float n;
#define PORTA_PUSH_COUNT(n) +1
// The shaders' push-constant block, expanded from the same field list (quant_push.h).
struct QuantPush {
  PORTA_QUANT_PUSH(PORTA_PUSH_U32, PORTA_PUSH_F32)
};
constexpr int kQuantPushFields = 0 PORTA_QUANT_PUSH(PORTA_PUSH_COUNT, PORTA_PUSH_COUNT);
static_assert(sizeof(QuantPush) == 4 * kQuantPushFields, "quant push constants must be packed 4-byte fields");
static_assert(sizeof(QuantPush) <= kPushBytes, "quant push constants exceed the guaranteed 128 bytes");

constexpr int64_t kGemvMaxM = 16;
constexpr uint32_t F_BIAS = 1, F_PERM = 2, F_IDS = 4, F_TENSOR = 8;

uint32_t code(DType t) { return static_cast<uint32_t>(t); }
uint32_t fmt(QuantFormat f) { return static_cast<uint32_t>(f); }

/// The weight's fields of the push constants.
QuantPush weight_push(const QuantWeightArg& w, const char* op) {
  QuantPush pc{};
  const bool per_tensor = w.group == QuantScheme::kPerTensor;
  pc.K = u32(w.k, op, "K");
  pc.group = w.group > 0 ? static_cast<uint32_t>(w.group) : std::max<uint32_t>(pc.K, 1);
  pc.off_q = u32(w.codes.offset, op, "byte offset");
  pc.rs_q = u32(w.codes.strides[0], op, "stride");
  pc.off_s = u32(w.scales.offset, op, "byte offset");
  pc.rs_s = per_tensor ? 0 : u32(w.scales.strides[0], op, "stride");
  pc.cs_s = per_tensor ? 0 : u32(w.scales.strides[1], op, "stride");
  pc.dt_s = code(w.scales.dtype);
  if (w.zeros) {
    pc.off_z = u32(w.zeros->offset, op, "byte offset");
    pc.rs_z = u32(w.zeros->strides[0], op, "stride");
    pc.cs_z = u32(w.zeros->strides[1], op, "stride");
  }
  if (w.perm) {
    pc.flags |= F_PERM;
    pc.off_perm = u32(w.perm->offset, op, "byte offset");
    pc.s_perm = u32(w.perm->strides[0], op, "stride");
  }
  u32(w.n, op, "N");
  return pc;
}

/// Bindings 0-3 (codes, scales, zeros, perm); absent operands bind the codes (never read).
struct WeightRefs {
  BufferRef q, s, z, p;
};
WeightRefs weight_refs(const QuantWeightArg& w, bool write) {
  return {ref(w.codes, write), ref(w.scales, write), ref(w.zeros ? *w.zeros : w.codes, write && w.zeros),
          ref(w.perm ? *w.perm : w.codes, false)};
}

/// qdequant into `out` (byte offset off, element strides rs / cs, dtype dt) of `rows` rows:
/// weight rows row0 + r, or ids[r] when `ids`; columns perm[j] when the weight has one and
/// `unpermute`.
void dequant_rows(VulkanQueue& q, const QuantWeightArg& w, const BufferRef& out, uint64_t off, int64_t rs,
                  int64_t cs, DType dt, int64_t rows, int64_t row0, const TensorArg* ids, bool unpermute,
                  const char* op) {
  if (rows == 0 || w.k == 0) return;
  VulkanDevice& dev = q.device();
  QuantPush pc = weight_push(w, op);
  if (!unpermute) pc.flags &= ~F_PERM;
  pc.N = u32(w.n, op, "rows");
  pc.rs_c = u32(rs, op, "stride");
  pc.cs_c = u32(cs, op, "stride");
  pc.dt_c = code(dt);
  const WeightRefs wr = weight_refs(w, false);
  const BufferRef a = ids ? ref(*ids, false) : wr.q;
  if (ids) {
    pc.flags |= F_IDS;
    pc.rs_a = u32(ids->strides[0], op, "stride");
  }
  const uint32_t gx = groups(q, static_cast<uint64_t>(w.k + 7) / 8, 64);  // wider rows: invocations stride
  const Pipeline& p = dev.pipelines().get("quant_dequant", 7, {fmt(w.format)});
  const int64_t chunk = std::min<uint32_t>(dev.caps().max_groups[1], 65535u);
  const int64_t esize = static_cast<int64_t>(dtype_size(dt));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    QuantPush c = pc;
    c.off_c = u32(static_cast<int64_t>(off) + r0 * rs * esize, op, "byte offset");
    if (ids)
      c.off_a = u32(ids->offset + r0 * ids->strides[0] * 4, op, "byte offset");
    else
      c.row0 = u32(row0 + r0, op, "row");
    q.dispatch(p, {wr.q, wr.s, wr.z, wr.p, a, out, wr.q}, &c, sizeof c, gx, static_cast<uint32_t>(nr));
  }
}

/// Trips of a loop of `n` steps must stay within the device's budget (llvmpipe).
void check_trips(VulkanDevice& dev, uint64_t trips, const char* op, const std::string& what) {
  if (trips <= max_trips(dev)) return;
  throw Error(Errc::unsupported, std::string("vulkan: ") + op + ": " + what + " needs " +
                                     std::to_string(trips) +
                                     " loop iterations in one invocation, more than " + dev.info().name +
                                     " runs (" + std::to_string(max_trips(dev)) +
                                     "); use a group size of 32-128 instead of one scale per row");
}

void gemm_blocked(VulkanQueue& q, const QuantGemmArgs& g) {
  const char* op = "gemm";
  VulkanDevice& dev = q.device();
  const int64_t M = g.a.shape[0], N = g.w.n, K = g.w.k;
  const int64_t budget = std::min<int64_t>(dev.tuning().quant.block_bytes,
                                           static_cast<int64_t>(dev.info().max_allocation_bytes) / 2);
  const int64_t rows = std::min(N, std::max<int64_t>(64, budget / std::max<int64_t>(1, K * 4) / 64 * 64));
  // A tensor buffer (not stream scratch) so op_gemm can take it as B; freed after the
  // batches recorded here have run (VulkanBuffer retires its allocation).
  std::unique_ptr<Buffer> block = dev.allocate(static_cast<uint64_t>(rows * std::max<int64_t>(K, 1)) * 4);
  GemmArgs d;
  d.a = g.a;
  d.a.rank = 3;
  d.a.shape[0] = 1, d.a.shape[1] = M, d.a.shape[2] = K;
  d.a.strides[0] = 0, d.a.strides[1] = g.a.strides[0], d.a.strides[2] = g.a.strides[1];
  d.alpha = g.alpha;
  d.beta = g.beta;
  d.activation = g.activation;
  const int64_t csize = static_cast<int64_t>(dtype_size(g.c.dtype));
  for (int64_t n0 = 0; n0 < N; n0 += rows) {
    const int64_t nb = std::min(rows, N - n0);
    TensorArg b;  // block^T: [K, nb] f32, weight row r / element j at j * nb + r
    b.buffer = block.get();
    b.dtype = DType::f32;
    b.rank = 3;
    b.shape[0] = 1, b.shape[1] = K, b.shape[2] = nb;
    b.strides[0] = 0, b.strides[1] = nb, b.strides[2] = 1;
    dequant_rows(q, g.w, ref(b, true), 0, 1, nb, DType::f32, nb, n0, nullptr, true, op);
    d.b = b;
    d.c = g.c;
    d.c.rank = 3;
    d.c.shape[0] = 1, d.c.shape[1] = M, d.c.shape[2] = nb;
    d.c.strides[0] = 0, d.c.strides[1] = g.c.strides[0], d.c.strides[2] = g.c.strides[1];
    d.c.offset = g.c.offset + n0 * g.c.strides[1] * csize;
    TensorArg bias;
    d.bias = nullptr;
    if (g.bias) {
      bias = *g.bias;
      bias.shape[0] = nb;
      bias.offset += n0 * bias.strides[0] * static_cast<int64_t>(dtype_size(bias.dtype));
      d.bias = &bias;
    }
    op_gemm(q, d);
  }
}

}  // namespace

void op_dequantize(VulkanQueue& q, const DequantizeArgs& a) {
  dequant_rows(q, a.w, ref(a.out, true), static_cast<uint64_t>(a.out.offset), a.out.strides[0],
               a.out.strides[1], a.out.dtype, a.w.n, 0, nullptr, false, "dequantize");
}

void op_embedding_quant(VulkanQueue& q, const QuantEmbeddingArgs& e) {
  dequant_rows(q, e.table, ref(e.out, true), static_cast<uint64_t>(e.out.offset), e.out.strides[0],
               e.out.strides[1], e.out.dtype, e.ids.shape[0], 0, &e.ids, false, "embedding");
}

void op_quantize(VulkanQueue& q, const QuantizeArgs& a) {
  const char* op = "quantize";
  VulkanDevice& dev = q.device();
  const QuantWeightArg& o = a.out;
  const int64_t N = o.n, K = o.k;
  if (N == 0 || K == 0) return;
  QuantPush pc = weight_push(o, op);
  pc.N = u32(N, op, "rows");
  pc.off_a = u32(a.w.offset, op, "byte offset");
  pc.rs_a = u32(a.w.strides[0], op, "stride");
  pc.cs_a = u32(a.w.strides[1], op, "stride");
  pc.dt_a = code(a.w.dtype);
  pc.alpha = 1.0f;  // the shader's run-time 1 (divisions stay divisions)
  // A work-item walks its group twice (scale, then codes); per tensor, a row once first.
  check_trips(dev, 2 * uint64_t{pc.group} + 2, op, "a group of " + std::to_string(pc.group) + " elements");
  const WeightRefs wr = weight_refs(o, true);
  const BufferRef w = ref(a.w, false);
  const uint32_t max_x = std::min<uint32_t>(dev.caps().max_groups[0], 65535u);
  if (o.group == QuantScheme::kPerTensor) {
    pc.flags |= F_TENSOR;
    check_trips(dev, uint64_t(N) / 64 + 8, op, std::to_string(N) + " rows");
    Allocation rowmax = q.scratch(static_cast<VkDeviceSize>(N) * 4, "quantize row scales");
    const uint32_t gx = static_cast<uint32_t>((N + 63) / 64);
    if (gx > max_x) throw Error(Errc::unsupported, "vulkan: quantize: too many rows for one dispatch");
    q.dispatch(dev.pipelines().get("quant_quantize", 7, {fmt(o.format), 1}),
               {wr.q, wr.s, wr.z, wr.p, w, ref(rowmax, true), wr.q}, &pc, sizeof pc, gx);
    q.dispatch(dev.pipelines().get("quant_quantize", 7, {fmt(o.format), 2}),
               {wr.q, wr.s, wr.z, wr.p, w, ref(rowmax, false), wr.q}, &pc, sizeof pc, 1);
  }
  const int64_t G = (K + pc.group - 1) / pc.group;
  const uint32_t gx = static_cast<uint32_t>((G + 63) / 64);
  const Pipeline& p = dev.pipelines().get("quant_quantize", 7, {fmt(o.format), 0});
  const int64_t chunk = std::min<uint32_t>(dev.caps().max_groups[1], 65535u);
  for (int64_t r0 = 0; r0 < N; r0 += chunk) {
    QuantPush c = pc;
    c.row0 = static_cast<uint32_t>(r0);
    q.dispatch(p, {wr.q, wr.s, wr.z, wr.p, w, wr.q, wr.q}, &c, sizeof c, gx,
               static_cast<uint32_t>(std::min(chunk, N - r0)));
  }
}

void op_gemm_quant(VulkanQueue& q, const QuantGemmArgs& g) {
  const char* op = "gemm";
  VulkanDevice& dev = q.device();
  const int64_t M = g.a.shape[0], N = g.w.n;
  if (M == 0 || N == 0) return;
  const QuantTiling& t = dev.tuning().quant;
  QuantPush pc = weight_push(g.w, op);
  pc.unit = g.w.group > 0 ? std::min<uint32_t>(t.gemv_unit, pc.group) : t.gemv_unit;
  const uint32_t mr = M == 1 ? 1 : 4;  // rows per invocation; more rows take more row blocks
  // Trips of one GEMV invocation: its units, each a loop over 8-element steps (+ a tail),
  // and the reduction over the column's invocations.
  const uint64_t units = (uint64_t{pc.K} + pc.unit - 1) / pc.unit;
  const uint64_t trips =
      (units + t.gemv_split - 1) / t.gemv_split * (pc.unit / 8 + 8 + mr) + t.gemv_split + 8;
  if (M > kGemvMaxM || trips > max_trips(dev)) {
    gemm_blocked(q, g);
    return;
  }
  pc.M = u32(M, op, "M");
  pc.off_a = u32(g.a.offset, op, "byte offset");
  pc.rs_a = u32(g.a.strides[0], op, "stride");
  pc.cs_a = u32(g.a.strides[1], op, "stride");
  pc.dt_a = code(g.a.dtype);
  pc.off_c = u32(g.c.offset, op, "byte offset");
  pc.rs_c = u32(g.c.strides[0], op, "stride");
  pc.cs_c = u32(g.c.strides[1], op, "stride");
  pc.dt_c = code(g.c.dtype);
  pc.dt_bias = pc.dt_c;
  if (g.bias) {
    pc.flags |= F_BIAS;
    pc.off_bias = u32(g.bias->offset, op, "byte offset");
    pc.s_bias = u32(g.bias->strides[0], op, "stride");
    pc.dt_bias = code(g.bias->dtype);
  }
  pc.act = static_cast<uint32_t>(g.activation);
  pc.alpha = g.alpha;
  pc.beta = g.beta;
  // 16-byte activation loads: unit-stride rows at 16-byte aligned starts, no permutation.
  const int64_t ea = static_cast<int64_t>(dtype_size(g.a.dtype));
  const bool vec_a = !g.w.perm && (g.a.strides[1] == 1 || g.a.shape[1] == 1) && pc.off_a % 16 == 0 &&
                     (M == 1 || g.a.strides[0] * ea % 16 == 0);
  const Pipeline& p = dev.pipelines().get(
      "quant_gemv", 7,
      {fmt(g.w.format), code(g.a.dtype), mr, t.gemv_split, g.w.perm ? 1u : 0u, t.gemv_cols, vec_a ? 1u : 0u});
  const WeightRefs wr = weight_refs(g.w, false);
  const BufferRef bias = ref(g.bias ? *g.bias : g.c, false);
  const uint32_t cols = 64 / t.gemv_split * t.gemv_cols;  // output columns per workgroup
  const int64_t chunk = int64_t{std::min<uint32_t>(dev.caps().max_groups[0], 65535u)} * cols;
  const uint32_t gy = static_cast<uint32_t>((M + mr - 1) / mr);
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t nc = std::min(chunk, N - n0);
    QuantPush c = pc;
    c.N = static_cast<uint32_t>(nc);
    c.row0 = static_cast<uint32_t>(n0);
    q.dispatch(p, {wr.q, wr.s, wr.z, wr.p, ref(g.a, false), ref(g.c, true), bias}, &c, sizeof c,
               static_cast<uint32_t>((nc + cols - 1) / cols), gy);
  }
}

}  // namespace porta::vk
