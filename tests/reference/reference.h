// Float64 reference implementations of every porta op, on contiguous host data.
// They are the truth the conformance suite compares devices against; they never
// call porta's own kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "porta/ops.h"

namespace porta::ref {

/// A contiguous row-major host tensor of doubles.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<double> v;

  HostTensor() = default;
  explicit HostTensor(std::vector<int64_t> s);
  int64_t numel() const;
  int rank() const { return static_cast<int>(shape.size()); }
  double& operator[](int64_t i) { return v[static_cast<size_t>(i)]; }
  double operator[](int64_t i) const { return v[static_cast<size_t>(i)]; }
};

/// Index of `out`'s element into a tensor that broadcasts (numpy rules) to `out_shape`.
int64_t broadcast_index(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape,
                        int64_t out_index);

double activation(ops::Activation a, double x);

/// c holds beta*C input when beta != 0; returns the result. a [.., M, K] logical (after trans).
HostTensor gemm(const HostTensor& a, const HostTensor& b, const HostTensor& c_in,
                const std::vector<int64_t>& c_shape, double alpha, double beta, const HostTensor* bias,
                ops::Activation act);
HostTensor attention(const HostTensor& q, const HostTensor& k, const HostTensor& v, bool causal, double scale,
                     const std::vector<int32_t>* kv_lens);
HostTensor rms_norm(const HostTensor& x, const HostTensor& w, double eps);
HostTensor layer_norm(const HostTensor& x, const HostTensor& w, const HostTensor* b, double eps);
/// freq_factors: empty, or rotary_dim/2 divisors of the pair frequencies.
HostTensor rope(const HostTensor& x, const std::vector<int32_t>& pos, bool pos_per_batch,
                ops::RopeStyle style, double theta, int rotary_dim, const std::vector<float>& freq_factors = {});
HostTensor softmax(const HostTensor& x, double scale, const HostTensor* mask);
enum class Unary { gelu_tanh, gelu_erf, scale };
HostTensor unary(Unary op, const HostTensor& x, double alpha = 1.0);
enum class Binary { add, mul, silu_mul };
HostTensor binary(Binary op, const HostTensor& a, const HostTensor& b, const std::vector<int64_t>& out_shape);
/// Conversion as ops::cast defines it: to_dtype's rounding; float to int rounds to nearest even, saturates,
/// NaN -> 0.
HostTensor cast(const HostTensor& x, DType to);
HostTensor embedding(const HostTensor& table, const std::vector<int32_t>& ids,
                     const std::vector<int64_t>& ids_shape);
std::vector<int32_t> argmax(const HostTensor& x);
/// Paged attention (porta/serving.h) over a dequantised cache k, v [num_blocks, block_size, Hkv, D];
/// q [T, Hq, D]; block_tables row-major [B, max_blocks]. Rows no sequence covers keep out_before's
/// values; lse (optional, [T, Hq]) is filled for covered rows.
HostTensor paged_attention(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                           const std::vector<int32_t>& block_tables, int64_t max_blocks,
                           const std::vector<int32_t>& cu_seqlens_q, const std::vector<int32_t>& seq_lens,
                           int64_t max_seqlen_q, int64_t max_seqlen_k, bool causal, double scale, int64_t window,
                           const HostTensor& out_before, HostTensor* lse);

}  // namespace porta::ref
