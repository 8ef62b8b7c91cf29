#include "model.h"

#include <algorithm>

#include "load_error.h"
#include "porta/quant.h"

namespace porta_run {

using porta::DType;
using porta::Tensor;
namespace ops = porta::ops;

Model::Model(const Checkpoint& ck, porta::Stream& s, const ModelOptions& opt)
    : c_(ck.config()), opt_(opt), dev_(s.device()) {
  ctx_ = opt.ctx > 0 ? opt.ctx : std::min<int64_t>(c_.max_context, 4096);
  if (ctx_ > (int64_t{1} << 24)) throw LoadError("--ctx " + std::to_string(ctx_) + " is too large");
  const int64_t H = c_.hidden, D = c_.head_dim, Hq = c_.heads, Hkv = c_.kv_heads, F = c_.ffn, V = c_.vocab;
  const int64_t n_layers = opt.layers > 0 ? std::min(opt.layers, c_.layers) : c_.layers;
  auto say = [&](const std::string& m) {
    if (opt.progress) opt.progress(m);
  };
  embed_ = load(s, ck, {"model.embed_tokens.weight"}, {{V, H}}, true);
  const uint64_t embed_bytes = weight_bytes_;
  for (int64_t l = 0; l < n_layers; ++l) {
    const uint64_t before = weight_bytes_;
    auto n = [&](const char* suffix) { return layer_name(l, suffix); };
    Layer L;
    L.attn_norm = load_vector(s, ck, {n("input_layernorm.weight")}, {{H}});
    L.wqkv = load(s, ck, {n("self_attn.q_proj.weight"), n("self_attn.k_proj.weight"), n("self_attn.v_proj.weight")},
                  {{Hq * D, H}, {Hkv * D, H}, {Hkv * D, H}});
    if (c_.qkv_bias)
      L.bqkv = load_vector(s, ck, {n("self_attn.q_proj.bias"), n("self_attn.k_proj.bias"), n("self_attn.v_proj.bias")},
                    {{Hq * D}, {Hkv * D}, {Hkv * D}});
    if (c_.qk_norm) {
      L.q_norm = load_vector(s, ck, {n("self_attn.q_norm.weight")}, {{D}});
      L.k_norm = load_vector(s, ck, {n("self_attn.k_norm.weight")}, {{D}});
    }
    L.wo = load(s, ck, {n("self_attn.o_proj.weight")}, {{H, Hq * D}});
    L.ffn_norm = load_vector(s, ck, {n("post_attention_layernorm.weight")}, {{H}});
    L.w_gate_up = load(s, ck, {n("mlp.gate_proj.weight"), n("mlp.up_proj.weight")}, {{F, H}, {F, H}});
    L.w_down = load(s, ck, {n("mlp.down_proj.weight")}, {{H, F}});
    if (l == 0) layer_bytes_ = weight_bytes_ - before;
    check_fits(dev_, static_cast<uint64_t>(Hkv * ctx_ * D) * porta::dtype_size(opt.act), "the KV cache of one layer");
    L.k_cache = Tensor::empty(dev_, opt.act, {1, Hkv, ctx_, D});
    L.v_cache = Tensor::empty(dev_, opt.act, {1, Hkv, ctx_, D});
    layers_.push_back(std::move(L));
    say("loaded layer " + std::to_string(l + 1) + "/" + std::to_string(n_layers));
  }
  out_norm_ = load_vector(s, ck, {"model.norm.weight"}, {{H}});
  if (c_.tied_embeddings) {
    lm_head_ = embed_;
    bytes_per_token_ = weight_bytes_;  // the head is the embedding: read once per token
  } else {
    lm_head_ = load(s, ck, {"lm_head.weight"}, {{V, H}});
    bytes_per_token_ = weight_bytes_ - embed_bytes;  // the embedding is gathered, one row per token
  }
  for (size_t i = 0; i < formats_seen_.size(); ++i) summary_ += (i ? ", " : "") + formats_seen_[i];
}

Weight Model::load(porta::Stream& s, const Checkpoint& ck, const std::vector<std::string>& names,
                   const std::vector<std::vector<int64_t>>& shapes, bool table) {
  std::string what = ck.file_name_of(names.front());
  if (names.size() > 1) what = "fused " + what + " (+" + std::to_string(names.size() - 1) + ")";
  std::vector<LayerPart> packed(names.size());
  bool any_packed = false;
  for (size_t i = 0; i < names.size(); ++i) {
    packed[i].n = shapes[i][0], packed[i].k = shapes[i][1];
    if (ck.find_packed(names[i], &packed[i].packed)) any_packed = true;
    else packed[i].dense = &ck.get(names[i], shapes[i]);
  }
  if (any_packed) {
    if (table) throw LoadError(ck.description() + ": a quantized embedding table ('" + what + "') is not supported");
    const WeightPlan plan = opt_.weights.plan_packed(dev_, opt_.act);
    Weight w = upload_packed(s, ck.packed_format(), packed, plan, opt_.weights, opt_.act, "tensor '" + what + "'");
    const std::string f = w.format() + " (from " + ck.packed_format().str() + (plan.exact ? ", exact)" : ", not exact)");
    if (std::find(formats_seen_.begin(), formats_seen_.end(), f) == formats_seen_.end()) formats_seen_.push_back(f);
    weight_bytes_ += w.nbytes();
    return w;
  }
  std::vector<const TensorData*> parts;
  for (const LayerPart& p : packed) parts.push_back(p.dense);
  const SrcType src = parts.front()->type;
  const WeightPlan plan = opt_.weights.plan(src, dev_, opt_.act, table);
  Weight w = upload_weight(s, parts, plan, "tensor '" + what + "'");
  const bool as_stored = !plan.quantized && is_dense(src) && plan.exact && (plan.dtype != DType::f32 || src == SrcType::f32);
  const std::string f = w.format() + (as_stored ? " (as stored)"
                                      : std::string(" (from ") + src_type_name(src) + (plan.exact ? ", exact)" : ", not exact)"));
  if (std::find(formats_seen_.begin(), formats_seen_.end(), f) == formats_seen_.end()) formats_seen_.push_back(f);
  weight_bytes_ += w.nbytes();
  return w;
}

// Norm weights and biases are small: f32 whatever the file holds (exact for every source).
Tensor Model::load_vector(porta::Stream& s, const Checkpoint& ck, const std::vector<std::string>& names,
                          const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<const TensorData*> parts;
  for (size_t i = 0; i < names.size(); ++i) parts.push_back(&ck.get(names[i], shapes[i]));
  Tensor t = upload_rows(s, parts, DType::f32, "tensor '" + ck.file_name_of(names.front()) + "'");
  weight_bytes_ += static_cast<uint64_t>(t.nbytes());
  return t;
}

int64_t Model::layer_macs() const {
  const int64_t H = c_.hidden, D = c_.head_dim;
  return H * (c_.heads + 2 * c_.kv_heads) * D + c_.heads * D * H + 3 * H * c_.ffn;
}

// y = x · wᵀ (+ bias) for a [out, in] weight.
Tensor Model::linear(porta::Stream& s, const Tensor& x, const Weight& w, const Tensor* bias) {
  Tensor y = Tensor::empty(dev_, opt_.act, {x.dim(0), w.rows()});
  linear_into(s, x, w, bias && bias->defined() ? bias : nullptr, y);
  return y;
}

void Model::linear_into(porta::Stream& s, const Tensor& x, const Weight& w, const Tensor* b, Tensor& y) {
  if (!w.split.empty()) {  // each part writes its columns of y
    int64_t r0 = 0;
    for (const Weight& part : w.split) {
      const int64_t r1 = r0 + part.rows();
      Tensor ys = y.slice(1, r0, r1);
      const Tensor bs = b ? b->slice(0, r0, r1) : Tensor();
      linear_into(s, x, part, b ? &bs : nullptr, ys);
      r0 = r1;
    }
    return;
  }
  if (w.quant.defined()) {
    ops::QuantGemmOptions g;
    g.bias = b;
    ops::gemm(s, x, w.quant, y, g);
    return;
  }
  ops::GemmOptions g;
  g.trans_b = true;
  g.bias = b;
  ops::gemm(s, x, w.dense, y, g);
}

void Model::layer(porta::Stream& s, Layer& L, Tensor& x, const Tensor& pos, int64_t p0, int64_t n) {
  const int64_t H = c_.hidden, D = c_.head_dim, Hq = c_.heads, Hkv = c_.kv_heads, F = c_.ffn;
  const DType act = opt_.act;
  Tensor xn = Tensor::empty(dev_, act, {n, H});
  ops::rms_norm(s, x, L.attn_norm, xn, static_cast<float>(c_.norm_eps));
  Tensor qkv = linear(s, xn, L.wqkv, &L.bqkv);  // [n, (Hq + 2 Hkv) D]
  // [n, count, D] views of the fused projection.
  auto heads = [&](int64_t first, int64_t count) { return qkv.slice(1, first * D, (first + count) * D).reshape({n, count, D}); };
  Tensor q_in = heads(0, Hq), k_in = heads(Hq, Hkv);
  if (c_.qk_norm) {  // Qwen3: RMSNorm over each head before RoPE
    Tensor qn = Tensor::empty(dev_, act, {n, Hq, D}), kn = Tensor::empty(dev_, act, {n, Hkv, D});
    ops::rms_norm(s, q_in, L.q_norm, qn, static_cast<float>(c_.norm_eps));
    ops::rms_norm(s, k_in, L.k_norm, kn, static_cast<float>(c_.norm_eps));
    q_in = qn;
    k_in = kn;
  }
  ops::RopeOptions rope;
  rope.style = c_.rope_style;
  rope.theta = static_cast<float>(c_.rope_theta);
  rope.freq_factors = c_.rope_freq_factors;
  Tensor q = Tensor::empty(dev_, act, {1, Hq, n, D});
  ops::rope(s, q_in.reshape({1, n, Hq, D}).transpose(1, 2), pos, q, rope);
  Tensor k_new = L.k_cache.slice(2, p0, p0 + n);  // the cache is the output
  ops::rope(s, k_in.reshape({1, n, Hkv, D}).transpose(1, 2), pos, k_new, rope);
  Tensor v_new = L.v_cache.slice(2, p0, p0 + n);
  ops::copy(s, heads(Hq + Hkv, Hkv).reshape({1, n, Hkv, D}).transpose(1, 2), v_new);

  Tensor attn = Tensor::empty(dev_, act, {1, n, Hq, D});  // token-major: flattens to [n, Hq D]
  Tensor attn_heads = attn.transpose(1, 2);
  ops::AttentionOptions ao;
  ao.causal = true;  // aligned to the end of the cache
  ops::attention(s, q, L.k_cache.slice(2, 0, p0 + n), L.v_cache.slice(2, 0, p0 + n), attn_heads, ao);
  Tensor o = linear(s, attn.reshape({n, Hq * D}), L.wo, nullptr);
  Tensor h = Tensor::empty(dev_, act, {n, H});
  ops::add(s, x, o, h);

  Tensor hn = Tensor::empty(dev_, act, {n, H});
  ops::rms_norm(s, h, L.ffn_norm, hn, static_cast<float>(c_.norm_eps));
  Tensor gate_up = linear(s, hn, L.w_gate_up, nullptr);  // [n, 2F]: gate then up
  Tensor a = Tensor::empty(dev_, act, {n, F});
  ops::silu_mul(s, gate_up.slice(1, 0, F), gate_up.slice(1, F, 2 * F), a);
  Tensor down = linear(s, a, L.w_down, nullptr);
  ops::add(s, h, down, x);  // x = h + down (x is not an input here: no overlap)
}

Tensor Model::forward(porta::Stream& s, const std::vector<int32_t>& ids, int64_t pos, bool all_logits) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n <= 0 || pos < 0 || pos + n > ctx_)
    throw porta::Error(porta::Errc::invalid_argument,
                       "porta-run: positions [" + std::to_string(pos) + ", " + std::to_string(pos + n) +
                           ") do not fit the context of " + std::to_string(ctx_) + " (--ctx)");
  for (int32_t id : ids)
    if (id < 0 || id >= c_.vocab)
      throw porta::Error(porta::Errc::invalid_argument, "porta-run: token id " + std::to_string(id) +
                                                            " is outside the vocabulary [0, " + std::to_string(c_.vocab) + ")");
  std::vector<int32_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = static_cast<int32_t>(pos + i);
  Tensor id_t = Tensor::from_host(s, DType::i32, {n}, ids.data());
  Tensor pos_t = Tensor::from_host(s, DType::i32, {n}, positions.data());
  Tensor x = Tensor::empty(dev_, opt_.act, {n, c_.hidden});
  if (embed_.quant.defined()) {
    ops::embedding(s, embed_.quant, id_t, x);
  } else if (embed_.dense.dtype() == opt_.act) {
    ops::embedding(s, embed_.dense, id_t, x);
  } else {
    Tensor e = Tensor::empty(dev_, embed_.dense.dtype(), {n, c_.hidden});
    ops::embedding(s, embed_.dense, id_t, e);
    ops::cast(s, e, x);
  }
  const size_t active = active_layers_ < 0 ? layers_.size() : std::min(layers_.size(), static_cast<size_t>(active_layers_));
  for (size_t l = 0; l < active; ++l) layer(s, layers_[l], x, pos_t, pos, n);
  const Tensor last = all_logits ? x : x.slice(0, n - 1, n);
  Tensor xn = Tensor::empty(dev_, opt_.act, last.shape());
  ops::rms_norm(s, last, out_norm_, xn, static_cast<float>(c_.norm_eps));
  Tensor logits = Tensor::empty(dev_, DType::f32, {last.dim(0), c_.vocab});
  linear_into(s, xn, lm_head_, nullptr, logits);
  s.synchronize();  // the step's temporaries (ids, positions, activations) are released on return
  return logits;
}

std::vector<float> Model::logits(porta::Stream& s, const std::vector<int32_t>& ids, int64_t pos, bool all_logits) {
  Tensor t = forward(s, ids, pos, all_logits);
  std::vector<float> out(static_cast<size_t>(t.numel()));
  t.copy_to_host(s, out.data());
  return out;
}

}  // namespace porta_run
