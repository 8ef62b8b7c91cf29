#include "decoder_layer.h"

#include <cmath>
#include <random>

namespace llama {

using porta::DType;
using porta::Tensor;
namespace ops = porta::ops;

std::string Config::str() const {
  return "hidden=" + std::to_string(hidden) + " heads=" + std::to_string(heads) + "/" +
         std::to_string(kv_heads) + " head_dim=" + std::to_string(head_dim) + " ffn=" + std::to_string(ffn) +
         " max_seq=" + std::to_string(max_seq) + " dtype=" + porta::dtype_name(dtype) +
         (weights.empty() ? "" : " weights=" + weights);
}

HostWeights HostWeights::random(const Config& c, uint64_t seed, int64_t vocab) {
  std::mt19937_64 rng(seed);
  // Scaled like a trained model's layers (std ~ 1/sqrt(fan_in)), so activations stay O(1)
  // and the comparison between devices is about the kernels, not about overflow.
  auto fill = [&](std::vector<float>& v, int64_t n, float stddev, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, stddev);
    v.resize(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
  };
  const int64_t qkv = (c.heads + 2 * c.kv_heads) * c.head_dim;
  HostWeights w;
  fill(w.attn_norm, c.hidden, 0.1f, 1.0f);
  fill(w.wqkv, qkv * c.hidden, 1.0f / std::sqrt(static_cast<float>(c.hidden)));
  fill(w.wo, c.hidden * c.heads * c.head_dim, 1.0f / std::sqrt(static_cast<float>(c.heads * c.head_dim)));
  fill(w.ffn_norm, c.hidden, 0.1f, 1.0f);
  fill(w.wgate_up, 2 * c.ffn * c.hidden, 1.0f / std::sqrt(static_cast<float>(c.hidden)));
  fill(w.wdown, c.hidden * c.ffn, 1.0f / std::sqrt(static_cast<float>(c.ffn)));
  fill(w.embedding, vocab * c.hidden, 1.0f);
  fill(w.lm_head, vocab * c.hidden, 1.0f / std::sqrt(static_cast<float>(c.hidden)));
  return w;
}

namespace {

// Uploads f32 host data and converts it on the device to `dtype`.
Tensor upload(porta::Stream& s, DType dtype, const porta::Shape& shape, const std::vector<float>& host) {
  Tensor f32 = Tensor::from_host(s, DType::f32, shape, host.data());
  if (dtype == DType::f32) return f32;
  Tensor t = Tensor::empty(s.device(), dtype, shape);
  ops::cast(s, f32, t);
  s.synchronize();  // before the f32 staging tensor goes away
  return t;
}

// Rows [first, first + count) of a row-major [rows, cols] matrix.
std::vector<float> rows_of(const std::vector<float>& m, int64_t cols, int64_t first, int64_t count) {
  return std::vector<float>(m.begin() + first * cols, m.begin() + (first + count) * cols);
}

// Columns [first, first + count) of a row-major [rows, cols] matrix.
std::vector<float> cols_of(const std::vector<float>& m, int64_t cols, int64_t first, int64_t count) {
  const int64_t rows = static_cast<int64_t>(m.size()) / cols;
  std::vector<float> out;
  out.reserve(static_cast<size_t>(rows * count));
  for (int64_t r = 0; r < rows; ++r)
    out.insert(out.end(), m.begin() + r * cols + first, m.begin() + r * cols + first + count);
  return out;
}

void append(std::vector<float>& a, const std::vector<float>& b) { a.insert(a.end(), b.begin(), b.end()); }

}  // namespace

DecoderLayer::DecoderLayer(const Config& c, const HostWeights& w, porta::Stream& s, porta::Communicator* tp)
    : c_(c), dev_(s.device()), tp_(tp) {
  const int64_t vocab = static_cast<int64_t>(w.embedding.size()) / c.hidden;
  const int64_t n = tp ? tp->size() : 1, r = tp ? tp->rank() : 0, D = c.head_dim, H = c.hidden;
  if (c.heads % n || c.kv_heads % n || c.ffn % n || vocab % n)
    throw porta::Error(porta::Errc::invalid_argument, "llama_layer: --tp " + std::to_string(n) +
                                                          " must divide heads (" + std::to_string(c.heads) +
                                                          "), kv_heads (" + std::to_string(c.kv_heads) +
                                                          "), ffn and the vocabulary");
  heads_ = c.heads / n, kv_heads_ = c.kv_heads / n, ffn_ = c.ffn / n, vocab_ = vocab / n;
  // This rank's q, k and v heads, fused again; its gate and up columns; its o/down input slices.
  std::vector<float> wqkv = rows_of(w.wqkv, H, r * heads_ * D, heads_ * D);
  append(wqkv, rows_of(w.wqkv, H, (c.heads + r * kv_heads_) * D, kv_heads_ * D));
  append(wqkv, rows_of(w.wqkv, H, (c.heads + c.kv_heads + r * kv_heads_) * D, kv_heads_ * D));
  std::vector<float> wgate_up = rows_of(w.wgate_up, H, r * ffn_, ffn_);
  append(wgate_up, rows_of(w.wgate_up, H, c.ffn + r * ffn_, ffn_));
  attn_norm_ = upload(s, c.dtype, {H}, w.attn_norm);
  wqkv_ = upload(s, c.dtype, {(heads_ + 2 * kv_heads_) * D, H}, wqkv);
  wo_ = upload(s, c.dtype, {H, heads_ * D}, cols_of(w.wo, c.heads * D, r * heads_ * D, heads_ * D));
  ffn_norm_ = upload(s, c.dtype, {H}, w.ffn_norm);
  wgate_up_ = upload(s, c.dtype, {2 * ffn_, H}, wgate_up);
  wdown_ = upload(s, c.dtype, {H, ffn_}, cols_of(w.wdown, c.ffn, r * ffn_, ffn_));
  embedding_ = upload(s, c.dtype, {vocab, H}, w.embedding);
  lm_head_ = upload(s, c.dtype, {vocab_, H}, rows_of(w.lm_head, H, r * vocab_, vocab_));
  if (!c.weights.empty()) {  // the four projections; embedding and lm_head stay dense
    qwqkv_ = quantized(s, wqkv_);
    qwo_ = quantized(s, wo_);
    qwgate_up_ = quantized(s, wgate_up_);
    qwdown_ = quantized(s, wdown_);
  }
  k_cache_ = Tensor::empty(dev_, c.dtype, {1, kv_heads_, c.max_seq, D});
  v_cache_ = Tensor::empty(dev_, c.dtype, {1, kv_heads_, c.max_seq, D});
}

Tensor DecoderLayer::logits(porta::Stream& s, const Tensor& y) {
  Tensor local = linear(s, y.slice(0, y.dim(0) - 1, y.dim(0)), lm_head_);  // [1, vocab / N]
  Tensor local_f32 = local;
  if (c_.dtype != DType::f32) {
    local_f32 = Tensor::empty(dev_, DType::f32, local.shape());
    ops::cast(s, local, local_f32);
  }
  if (!tp_) return local_f32.reshape({vocab_});
  Tensor all = Tensor::empty(dev_, DType::f32, {vocab_ * tp_->size()});  // rank order = vocabulary order
  tp_->all_gather(s, local_f32.reshape({vocab_}), all);
  return all;
}

porta::QuantWeight DecoderLayer::quantized(porta::Stream& s, const Tensor& w) const {
  porta::QuantScheme sc;
  if (c_.weights == "int8")
    sc = {porta::QuantFormat::int8, 128, DType::f16};
  else if (c_.weights == "int4")
    sc = {porta::QuantFormat::int4, w.dim(1) % 128 == 0 ? 128 : 32, DType::f16};
  else if (c_.weights == "fp8")
    sc = {porta::QuantFormat::fp8_e4m3fn, porta::QuantScheme::kPerChannel, DType::f32};
  else
    throw porta::Error(porta::Errc::invalid_argument,
                       "llama_layer: weights '" + c_.weights + "' is not int8, int4 or fp8");
  return ops::quantize(s, w, sc);
}

// y = x · wᵀ for a PyTorch-layout weight [out, in], dense or quantized.
Tensor DecoderLayer::linear(porta::Stream& s, const Tensor& x, const Tensor& w, const porta::QuantWeight& q) {
  Tensor y = Tensor::empty(dev_, c_.dtype, {x.dim(0), w.dim(0)});
  if (q.defined()) {
    ops::gemm(s, x, q, y);
    return y;
  }
  ops::GemmOptions opt;
  opt.trans_b = true;
  ops::gemm(s, x, w, y, opt);
  return y;
}

Tensor DecoderLayer::forward(porta::Stream& s, const std::vector<int32_t>& ids, int64_t pos) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t H = c_.hidden, D = c_.head_dim, Hq = heads_, Hkv = kv_heads_;  // this rank's heads
  if (n <= 0 || pos < 0 || pos + n > c_.max_seq)
    throw porta::Error(porta::Errc::invalid_argument,
                       "llama_layer: positions [" + std::to_string(pos) + ", " + std::to_string(pos + n) +
                           ") do not fit the KV cache of " + std::to_string(c_.max_seq));
  std::vector<int32_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = static_cast<int32_t>(pos + i);
  Tensor id_t = Tensor::from_host(s, DType::i32, {n}, ids.data());
  Tensor pos_t = Tensor::from_host(s, DType::i32, {n}, positions.data());

  Tensor x = Tensor::empty(dev_, c_.dtype, {n, H});
  ops::embedding(s, embedding_, id_t, x);

  // Attention block.
  Tensor xn = Tensor::empty(dev_, c_.dtype, {n, H});
  ops::rms_norm(s, x, attn_norm_, xn, c_.norm_eps);
  Tensor qkv = linear(s, xn, wqkv_, qwqkv_);  // [n, (Hq + 2 Hkv) D]
  // Views of the fused projection as [1, heads, n, D]: no copies.
  auto heads_view = [&](int64_t first, int64_t count) {
    return qkv.slice(1, first * D, (first + count) * D).reshape({1, n, count, D}).transpose(1, 2);
  };
  Tensor q = Tensor::empty(dev_, c_.dtype, {1, Hq, n, D});
  porta::ops::RopeOptions rope;
  rope.theta = c_.rope_theta;
  ops::rope(s, heads_view(0, Hq), pos_t, q, rope);
  Tensor k_new = k_cache_.slice(2, pos, pos + n);  // written in place: the cache is the output
  Tensor v_new = v_cache_.slice(2, pos, pos + n);
  ops::rope(s, heads_view(Hq, Hkv), pos_t, k_new, rope);
  ops::copy(s, heads_view(Hq + Hkv, Hkv), v_new);

  Tensor attn = Tensor::empty(dev_, c_.dtype, {1, n, Hq, D});  // token-major, so it flattens to [n, Hq D]
  Tensor attn_heads = attn.transpose(1, 2);                    // the [1, Hq, n, D] view attention writes
  ops::AttentionOptions ao;
  ao.causal = true;  // aligned to the end of the cache: token pos+i sees keys <= pos+i
  ops::attention(s, q, k_cache_.slice(2, 0, pos + n), v_cache_.slice(2, 0, pos + n), attn_heads, ao);
  Tensor o = linear(s, attn.reshape({n, Hq * D}), wo_, qwo_);
  if (tp_) tp_->all_reduce(s, o, o);  // partial sums of the row-split o projection
  Tensor h = Tensor::empty(dev_, c_.dtype, {n, H});
  ops::add(s, x, o, h);

  // MLP block (SwiGLU).
  Tensor hn = Tensor::empty(dev_, c_.dtype, {n, H});
  ops::rms_norm(s, h, ffn_norm_, hn, c_.norm_eps);
  Tensor gate_up = linear(s, hn, wgate_up_, qwgate_up_);  // [n, 2 F]: gate then up
  Tensor act = Tensor::empty(dev_, c_.dtype, {n, ffn_});
  ops::silu_mul(s, gate_up.slice(1, 0, ffn_), gate_up.slice(1, ffn_, 2 * ffn_), act);
  Tensor down = linear(s, act, wdown_, qwdown_);
  if (tp_) tp_->all_reduce(s, down, down);
  Tensor y = Tensor::empty(dev_, c_.dtype, {n, H});
  ops::add(s, h, down, y);
  s.synchronize();  // id_t/pos_t host staging; also what a caller timing the step wants
  return y;
}

Tensor DecoderLayer::forward_paged(porta::Stream& s, const PagedStep& st, porta::KvCache& cache) {
  const auto T = static_cast<int64_t>(st.ids.size());
  const auto B = static_cast<int64_t>(st.seq_lens.size());
  const int64_t H = c_.hidden, D = c_.head_dim, Hq = heads_, Hkv = kv_heads_;  // this rank's heads
  Tensor id_t = Tensor::from_host(s, DType::i32, {T}, st.ids.data());
  Tensor pos_t = Tensor::from_host(s, DType::i32, {T}, st.positions.data());
  Tensor slots = Tensor::from_host(s, DType::i64, {T}, st.slots.data());
  Tensor cu = Tensor::from_host(s, DType::i32, {B + 1}, st.cu_seqlens_q.data());
  Tensor lens = Tensor::from_host(s, DType::i32, {B}, st.seq_lens.data());
  Tensor tables = Tensor::from_host(s, DType::i32, {B, st.max_blocks}, st.block_tables.data());

  Tensor x = Tensor::empty(dev_, c_.dtype, {T, H});
  ops::embedding(s, embedding_, id_t, x);
  Tensor xn = Tensor::empty(dev_, c_.dtype, {T, H});
  ops::rms_norm(s, x, attn_norm_, xn, c_.norm_eps);
  Tensor qkv = linear(s, xn, wqkv_);  // [T, (Hq + 2 Hkv) D]
  // Packed [T, heads, D] views of the fused projection: no copies.
  auto heads_view = [&](int64_t first, int64_t count) {
    return qkv.slice(1, first * D, (first + count) * D).reshape({T, count, D});
  };
  porta::ops::RopeOptions rope;
  rope.theta = c_.rope_theta;
  Tensor q = Tensor::empty(dev_, c_.dtype, {T, Hq, D}), k = Tensor::empty(dev_, c_.dtype, {T, Hkv, D});
  ops::rope(s, heads_view(0, Hq), pos_t, q, rope);
  ops::rope(s, heads_view(Hq, Hkv), pos_t, k, rope);
  ops::kv_cache_write(s, k, heads_view(Hq + Hkv, Hkv), slots, cache);
  Tensor attn = Tensor::empty(dev_, c_.dtype, {T, Hq, D});
  ops::paged_attention(s, q, cache, tables, cu, lens, st.max_q, st.max_k, attn);
  Tensor o = linear(s, attn.reshape({T, Hq * D}), wo_);
  if (tp_) tp_->all_reduce(s, o, o);
  Tensor h = Tensor::empty(dev_, c_.dtype, {T, H});
  ops::add(s, x, o, h);

  Tensor hn = Tensor::empty(dev_, c_.dtype, {T, H});
  ops::rms_norm(s, h, ffn_norm_, hn, c_.norm_eps);
  Tensor gate_up = linear(s, hn, wgate_up_);
  Tensor act = Tensor::empty(dev_, c_.dtype, {T, ffn_});
  ops::silu_mul(s, gate_up.slice(1, 0, ffn_), gate_up.slice(1, ffn_, 2 * ffn_), act);
  Tensor down = linear(s, act, wdown_);
  if (tp_) tp_->all_reduce(s, down, down);
  Tensor y = Tensor::empty(dev_, c_.dtype, {T, H});
  ops::add(s, h, down, y);
  s.synchronize();  // the host index tensors above are staged synchronously; the caller reads y
  return y;
}

}  // namespace llama
