#include "reference/reference_model.h"

#include <cmath>
#include <stdexcept>

namespace porta::ref {
namespace {

using Vec = std::vector<double>;

const Vec& get(const WeightMap& w, const std::string& name) {
  auto it = w.find(name);
  if (it == w.end()) throw std::runtime_error("reference model: no weight " + name);
  return it->second;
}

// x [n, in] · W[out, in]ᵀ (+ b) -> [n, out]
Vec matmul_t(const Vec& x, int64_t n, int64_t in, const Vec& W, int64_t out, const Vec* b) {
  Vec y(static_cast<size_t>(n * out));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b ? (*b)[static_cast<size_t>(o)] : 0.0;
      for (int64_t k = 0; k < in; ++k) acc += x[static_cast<size_t>(i * in + k)] * W[static_cast<size_t>(o * in + k)];
      y[static_cast<size_t>(i * out + o)] = acc;
    }
  return y;
}

// RMSNorm of each consecutive group of d values.
void rms_norm_groups(Vec& x, int64_t d, const Vec& g, double eps) {
  for (size_t r = 0; r < x.size() / static_cast<size_t>(d); ++r) {
    double ss = 0;
    for (int64_t k = 0; k < d; ++k) ss += x[r * static_cast<size_t>(d) + static_cast<size_t>(k)] * x[r * static_cast<size_t>(d) + static_cast<size_t>(k)];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    for (int64_t k = 0; k < d; ++k) x[r * static_cast<size_t>(d) + static_cast<size_t>(k)] *= inv * g[static_cast<size_t>(k)];
  }
}

// Rotate-half RoPE on [n, heads, D] at positions 0..n-1.
void rope(Vec& x, int64_t n, int64_t heads, int64_t D, const DecoderSpec& s) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      double* v = x.data() + (t * heads + h) * D;
      for (int64_t i = 0; i < D / 2; ++i) {
        double f = std::pow(s.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(D));
        if (!s.freq_factors.empty()) f /= s.freq_factors[static_cast<size_t>(i)];
        const double c = std::cos(static_cast<double>(t) * f), sn = std::sin(static_cast<double>(t) * f);
        const double a = v[i], b = v[i + D / 2];
        v[i] = a * c - b * sn;
        v[i + D / 2] = b * c + a * sn;
      }
    }
}

}  // namespace

std::vector<double> decoder_logits(const DecoderSpec& s, const WeightMap& w, const std::vector<int32_t>& ids) {
  const int64_t n = static_cast<int64_t>(ids.size()), H = s.hidden, D = s.head_dim, Hq = s.heads, Hkv = s.kv_heads;
  const Vec& emb = get(w, "model.embed_tokens.weight");
  Vec x(static_cast<size_t>(n * H));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t k = 0; k < H; ++k) x[static_cast<size_t>(t * H + k)] = emb[static_cast<size_t>(ids[static_cast<size_t>(t)] * H + k)];
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Vec xn = x;
    rms_norm_groups(xn, H, get(w, p + "input_layernorm.weight"), s.norm_eps);
    Vec q = matmul_t(xn, n, H, get(w, p + "self_attn.q_proj.weight"), Hq * D, s.qkv_bias ? &get(w, p + "self_attn.q_proj.bias") : nullptr);
    Vec k = matmul_t(xn, n, H, get(w, p + "self_attn.k_proj.weight"), Hkv * D, s.qkv_bias ? &get(w, p + "self_attn.k_proj.bias") : nullptr);
    Vec v = matmul_t(xn, n, H, get(w, p + "self_attn.v_proj.weight"), Hkv * D, s.qkv_bias ? &get(w, p + "self_attn.v_proj.bias") : nullptr);
    if (s.qk_norm) {
      rms_norm_groups(q, D, get(w, p + "self_attn.q_norm.weight"), s.norm_eps);
      rms_norm_groups(k, D, get(w, p + "self_attn.k_norm.weight"), s.norm_eps);
    }
    rope(q, n, Hq, D, s);
    rope(k, n, Hkv, D, s);
    Vec att(static_cast<size_t>(n * Hq * D), 0.0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t kh = h / (Hq / Hkv);
      for (int64_t t = 0; t < n; ++t) {
        Vec sc(static_cast<size_t>(t + 1));
        double mx = -1e300;
        for (int64_t j = 0; j <= t; ++j) {
          double d = 0;
          for (int64_t e = 0; e < D; ++e) d += q[static_cast<size_t>((t * Hq + h) * D + e)] * k[static_cast<size_t>((j * Hkv + kh) * D + e)];
          sc[static_cast<size_t>(j)] = d * scale;
          mx = std::max(mx, d * scale);
        }
        double sum = 0;
        for (double& e : sc) sum += (e = std::exp(e - mx));
        for (int64_t j = 0; j <= t; ++j)
          for (int64_t e = 0; e < D; ++e)
            att[static_cast<size_t>((t * Hq + h) * D + e)] += sc[static_cast<size_t>(j)] / sum * v[static_cast<size_t>((j * Hkv + kh) * D + e)];
      }
    }
    const Vec o = matmul_t(att, n, Hq * D, get(w, p + "self_attn.o_proj.weight"), H, nullptr);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    Vec hn = x;
    rms_norm_groups(hn, H, get(w, p + "post_attention_layernorm.weight"), s.norm_eps);
    const Vec g = matmul_t(hn, n, H, get(w, p + "mlp.gate_proj.weight"), s.ffn, nullptr);
    Vec u = matmul_t(hn, n, H, get(w, p + "mlp.up_proj.weight"), s.ffn, nullptr);
    for (size_t i = 0; i < u.size(); ++i) u[i] *= g[i] / (1.0 + std::exp(-g[i]));
    const Vec d = matmul_t(u, n, s.ffn, get(w, p + "mlp.down_proj.weight"), H, nullptr);
    for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  rms_norm_groups(x, H, get(w, "model.norm.weight"), s.norm_eps);
  return matmul_t(x, n, H, get(w, s.tied ? "model.embed_tokens.weight" : "lm_head.weight"), s.vocab, nullptr);
}

}  // namespace porta::ref
