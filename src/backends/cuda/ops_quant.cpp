// Quantized weights on CUDA (and the hip module): kernels/cuda/quant.cu. The device layout is
// the canonical one (nothing repacked at upload). gemm with M <= 16 streams the packed codes
// (quant GEMV); larger M dequantizes blocks of weight rows into [rows, K] (the act-order
// permutation undone there) in A's dtype when A is f16/bf16 (so the sm80 mma.sync / sm90
// wgmma GEMM takes the block as a K-major [N, K] weight; FP8 and int weights become bf16 or
// f16 there) or f32, and runs the planned dense GEMM on each block into its columns of C.
#include <algorithm>
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "backends/cuda/quant_plan.h"
#include "kernels/cuda/launch.h"

namespace porta::cuda {
namespace {

int32_t act_code(ops::Activation a) {
  switch (a) {
    case ops::Activation::relu: return kActRelu;
    case ops::Activation::gelu: return kActGelu;
    case ops::Activation::silu: return kActSilu;
    default: return kActNone;
  }
}

char* ptr_of(const backend::TensorArg& t) { return to_desc(t).ptr; }

QWDesc weight_desc(const backend::QuantWeightArg& w) {
  if (w.k >= (int64_t{1} << 31) || w.n >= (int64_t{1} << 31))
    throw Error(Errc::unsupported, "cuda: quantized weight [" + std::to_string(w.n) + ", " +
                                       std::to_string(w.k) +
                                       "]: each extent must stay below 2^31 on this backend (32-bit group "
                                       "arithmetic in the kernels); split the weight with slice_n / slice_k");
  QWDesc q;
  const bool per_tensor = w.group == QuantScheme::kPerTensor;
  q.codes = ptr_of(w.codes);
  q.code_rs = w.codes.strides[0];
  q.scales = ptr_of(w.scales);
  q.scale_dt = static_cast<int32_t>(w.scales.dtype);
  q.scale_rs = per_tensor ? 0 : w.scales.strides[0];
  q.scale_cs = per_tensor ? 0 : w.scales.strides[1];
  if (w.zeros) {
    q.zeros = ptr_of(*w.zeros);
    q.zero_rs = w.zeros->strides[0];
    q.zero_cs = w.zeros->strides[1];
  }
  if (w.perm) {
    q.perm = ptr_of(*w.perm);
    q.perm_st = w.perm->strides[0];
  }
  q.format = static_cast<int32_t>(w.format);
  q.n = w.n;
  q.k = w.k;
  q.group = w.group > 0 ? w.group : std::max<int64_t>(w.k, 1);
  return q;
}

std::string shape_str(const backend::QuantWeightArg& w) {
  return std::string(quant_format_name(w.format)) + " [" + std::to_string(w.n) + ", " + std::to_string(w.k) +
         "]";
}

}  // namespace

bool CudaDevice::supports_quant(backend::Op op, QuantFormat f, DType act) const {
  (void)op;
  (void)f;
  return act == DType::f32 || act == DType::f16 || act == DType::bf16;
}

void* CudaQueue::quant_scratch(uint64_t bytes) {
  if (!quant_scratch_ || quant_scratch_->size() < bytes) {
    quant_scratch_.reset();  // freed on the legacy stream, after the work already enqueued here
    quant_scratch_ = std::make_unique<CudaBuffer>(dev_.ordinal(), bytes + bytes / 4, dev_.pooled());
  }
  return quant_scratch_->device_ptr();
}

void CudaQueue::quantize(const backend::QuantizeArgs& a) {
  set_device(dev_.ordinal());
  QuantizeDesc d;
  d.w = weight_desc(a.out);
  d.in = ptr_of(a.w);
  d.in_dt = static_cast<int32_t>(a.w.dtype);
  d.in_rs = a.w.strides[0];
  d.in_cs = a.w.strides[1];
  d.per_tensor = a.out.group == QuantScheme::kPerTensor;
  if (d.per_tensor) d.rowmax = static_cast<float*>(workspace(static_cast<uint64_t>(a.out.n) * sizeof(float)));
  check_launch(launch_quantize(d, stream_), "quantize " + shape_str(a.out));
}

void CudaQueue::dequantize(const backend::DequantizeArgs& a) {
  set_device(dev_.ordinal());
  QuantDequantDesc d;
  d.w = weight_desc(a.w);
  d.out = ptr_of(a.out);
  d.out_dt = static_cast<int32_t>(a.out.dtype);
  d.out_rs = a.out.strides[0];
  d.out_cs = a.out.strides[1];
  d.rows = a.w.n;
  d.vec = quant_dequant_vec(d);
  check_launch(launch_quant_dequant(d, stream_), "dequantize " + shape_str(a.w));
}

void CudaQueue::embedding_quant(const backend::QuantEmbeddingArgs& e) {
  set_device(dev_.ordinal());
  QuantDequantDesc d;
  d.w = weight_desc(e.table);
  d.out = ptr_of(e.out);
  d.out_dt = static_cast<int32_t>(e.out.dtype);
  d.out_rs = e.out.strides[0];
  d.out_cs = e.out.strides[1];
  d.rows = e.ids.shape[0];
  d.ids = ptr_of(e.ids);
  d.ids_st = e.ids.strides[0];
  d.vec = quant_dequant_vec(d);
  check_launch(launch_quant_dequant(d, stream_), "embedding from " + shape_str(e.table));
}

void CudaQueue::gemm_quant(const backend::QuantGemmArgs& g) {
  set_device(dev_.ordinal());
  const int64_t M = g.a.shape[0], N = g.w.n, K = g.w.k;
  if (M == 0 || N == 0) return;
  const std::string what =
      "gemm [" + std::to_string(M) + ", K=" + std::to_string(K) + "] x " + shape_str(g.w) + "ᵀ";
  const QuantTuning& tq = dev_.tuning().quant;
  if (M <= tq.gemv_max_m) {
    QuantGemvDesc d;
    d.w = weight_desc(g.w);
    d.a = ptr_of(g.a);
    d.a_dt = static_cast<int32_t>(g.a.dtype);
    d.a_rs = g.a.strides[0];
    d.a_cs = g.a.strides[1];
    d.M = M;
    d.c = ptr_of(g.c);
    d.c_dt = static_cast<int32_t>(g.c.dtype);
    d.c_rs = g.c.strides[0];
    d.c_cs = g.c.strides[1];
    if (g.bias) {
      d.bias = ptr_of(*g.bias);
      d.bias_dt = static_cast<int32_t>(g.bias->dtype);
      d.bias_st = g.bias->strides[0];
    }
    d.alpha = g.alpha;
    d.beta = g.beta;
    d.act = act_code(g.activation);
    d.vec = quant_gemv_vec(d.w);  // 16-byte code loads
    check_launch(launch_quant_gemv(d, stream_), what + " (quantized GEMV)");
    return;
  }
  // Larger M: dequantized blocks of rows, then the planned dense GEMM on each.
  const DType bt = g.a.dtype == DType::f32 ? DType::f32 : g.a.dtype;
  const int64_t es = static_cast<int64_t>(dtype_size(bt));
  const int64_t rows = std::min(
      N, std::max<int64_t>(128, (int64_t{tq.block_mib} << 20) / std::max<int64_t>(1, K * es) / 128 * 128));
  char* block = static_cast<char*>(quant_scratch(static_cast<uint64_t>(rows * std::max<int64_t>(K, 1) * es)));
  const TDesc a = to_desc(g.a), c = to_desc(g.c);
  for (int64_t n0 = 0; n0 < N; n0 += rows) {
    const int64_t nb = std::min(rows, N - n0);
    QuantDequantDesc q;  // block [nb, K] row-major: the K-major [N, K] layout of nn.Linear weights
    q.w = weight_desc(g.w);
    q.out = block;
    q.out_dt = static_cast<int32_t>(bt);
    q.out_rs = K;
    q.out_cs = 1;
    q.rows = nb;
    q.row0 = n0;
    q.unpermute = true;
    q.vec = quant_dequant_vec(q);
    check_launch(launch_quant_dequant(q, stream_), what + " (dequantized block)");
    GemmDesc d;
    // a [1, M, K], b [1, K, nb] (K-contiguous), c [1, M, nb] at column n0; rank-4 descs with dim 0 = 1.
    d.a = a;
    d.a.shape[0] = 1, d.a.shape[1] = 1, d.a.shape[2] = M, d.a.shape[3] = K;
    d.a.strides[0] = 0, d.a.strides[1] = 0, d.a.strides[2] = g.a.strides[0], d.a.strides[3] = g.a.strides[1];
    d.b.ptr = block;
    d.b.dtype = static_cast<int32_t>(bt);
    d.b.shape[0] = 1, d.b.shape[1] = 1, d.b.shape[2] = K, d.b.shape[3] = nb;
    d.b.strides[0] = 0, d.b.strides[1] = 0, d.b.strides[2] = 1, d.b.strides[3] = K;
    d.c = slice_desc(c, 3, n0, nb);
    d.c.shape[0] = 1, d.c.shape[1] = 1, d.c.shape[2] = M;
    d.c.strides[0] = 0, d.c.strides[1] = 0, d.c.strides[2] = g.c.strides[0], d.c.strides[3] = g.c.strides[1];
    if (g.bias) d.bias = slice_desc(to_desc(*g.bias), 3, n0, nb);
    d.batch = 1;
    d.M = M;
    d.N = nb;
    d.K = K;
    d.alpha = g.alpha;
    d.beta = g.beta;
    d.act = act_code(g.activation);
    GemmShape s;
    s.batch = 1, s.M = M, s.N = nb, s.K = K;
    s.a = g.a.dtype, s.b = bt;
    s.a_strides[0] = 0, s.a_strides[1] = g.a.strides[0], s.a_strides[2] = g.a.strides[1];
    s.b_strides[0] = 0, s.b_strides[1] = 1, s.b_strides[2] = K;
    s.a_addr = reinterpret_cast<uintptr_t>(d.a.ptr);
    s.b_addr = reinterpret_cast<uintptr_t>(d.b.ptr);
    run_gemm(d, s);
  }
}

}  // namespace porta::cuda
