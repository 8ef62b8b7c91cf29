// The ops. Each takes the stream first, validates every argument (throwing
// porta::Error naming the op, the shapes and the fix) and enqueues the work.
// Inputs may be strided views. Outputs are written through their strides.
// Float ops accept f32, f16 and bf16 and compute in f32.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "porta/stream.h"
#include "porta/tensor.h"

namespace porta::ops {

enum class Activation : uint8_t { none, relu, gelu, silu };

struct GemmOptions {
  bool trans_a = false;  // use A^T (a transposed view of the last two dims)
  bool trans_b = false;  // use B^T
  float alpha = 1.0f;
  float beta = 0.0f;             // C = alpha*op(A)*op(B) + beta*C; C's old value is read only when beta != 0
  const Tensor* bias = nullptr;  // [N], added after alpha scaling, before the activation
  Activation activation = Activation::none;
};

/// C[..., M, N] = act(alpha * op(A)[..., M, K] · op(B)[..., K, N] + beta*C + bias).
/// Ranks 2–4; leading (batch) dims of A and B broadcast (B of rank 2 is shared).
/// A, B and C are each f32, f16 or bf16, in any combination (e.g. f32 activations times
/// bf16 weights); bias any of them. Accumulates in f32. C must not overlap A, B or bias.
void gemm(Stream& s, const Tensor& a, const Tensor& b, Tensor& c, const GemmOptions& opt = {});

struct AttentionOptions {
  bool causal = false;  // query i sees keys j <= i + (kv_len - Sq): aligned to the end of the KV sequence
  float scale = std::numeric_limits<float>::quiet_NaN();  // NaN: 1/sqrt(D)
  const Tensor* kv_lens = nullptr;  // i32 [B]: valid KV length per batch (ragged caches), <= Skv
};

/// out[B, Hq, Sq, D] = softmax(scale * q·kᵀ (+ causal mask)) · v, with q [B, Hq, Sq, D],
/// k and v [B, Hkv, Skv, D], Hq % Hkv == 0 (GQA/MQA), D in {64, 80, 96, 128, 256}.
/// Any strides (so [B, S, H, D] caches are read through a transposed view).
/// A query row that sees no key produces zeros.
void attention(Stream& s, const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
               const AttentionOptions& opt = {});

/// out = x / sqrt(mean(x²) + eps) * weight, over the last dim; weight [D].
void rms_norm(Stream& s, const Tensor& x, const Tensor& weight, Tensor& out, float eps = 1e-6f);

/// out = (x - mean) / sqrt(var + eps) * weight + bias over the last dim; bias may be null.
void layer_norm(Stream& s, const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& out,
                float eps = 1e-5f);

enum class RopeStyle : uint8_t { neox, gptj };

struct RopeOptions {
  RopeStyle style = RopeStyle::neox;  // neox: pairs (i, i+rot/2); gptj: pairs (2i, 2i+1)
  float theta = 10000.0f;             // base frequency
  int rotary_dim = 0;                 // leading dims of each head rotated; 0 = all of D (must be even)
  /// Per-pair frequency divisors (pair i turns at theta^(-2i/rotary_dim) / freq_factors[i]):
  /// Llama 3's frequency scaling, LongRoPE. Empty: none; else rotary_dim/2 positive values.
  std::vector<float> freq_factors;
};

/// Rotary embedding. x and out [B, H, S, D] with positions i32 [S] or [B, S]; or packed tokens
/// x and out [T, H, D] (a serving batch) with positions i32 [T].
void rope(Stream& s, const Tensor& x, const Tensor& positions, Tensor& out, const RopeOptions& opt = {});

/// out = softmax(scale * x + mask) over the last dim; mask (optional) broadcasts to x.
void softmax(Stream& s, const Tensor& x, Tensor& out, float scale = 1.0f, const Tensor* mask = nullptr);

/// out = silu(gate) * up.
void silu_mul(Stream& s, const Tensor& gate, const Tensor& up, Tensor& out);
/// out = gelu(x); tanh approximation when `approximate` (GPT-2), erf otherwise.
void gelu(Stream& s, const Tensor& x, Tensor& out, bool approximate = true);
/// out = a + b with numpy-style broadcasting of a and b to out's shape.
void add(Stream& s, const Tensor& a, const Tensor& b, Tensor& out);
/// out = a * b with broadcasting.
void mul(Stream& s, const Tensor& a, const Tensor& b, Tensor& out);
/// out = alpha * x.
void scale(Stream& s, const Tensor& x, float alpha, Tensor& out);
/// out = x converted to out's dtype (any dtype pair; float→int rounds to nearest and saturates).
void cast(Stream& s, const Tensor& x, Tensor& out);
/// dst = src element-wise (same dtype and shape, any strides).
void copy(Stream& s, const Tensor& src, Tensor& dst);
/// Every element of dst = value (rounded to dst's dtype).
void fill(Stream& s, Tensor& dst, double value);
/// out[..., :] = table[ids[...], :]; table [V, D], ids i32 of rank ≤ 3, out [..ids, D].
void embedding(Stream& s, const Tensor& table, const Tensor& ids, Tensor& out);
/// out[...] = index of the largest element of x along the last dim (first on ties); out i32.
void argmax(Stream& s, const Tensor& x, Tensor& out);

}  // namespace porta::ops
