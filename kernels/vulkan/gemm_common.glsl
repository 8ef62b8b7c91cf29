// GEMM push constants and epilogue shared by the tiled, small-M and split-K kernels.
#ifndef PORTA_GEMM_COMMON_GLSL
#define PORTA_GEMM_COMMON_GLSL
layout(push_constant) uniform PC {
  uint M, N, K, splits;
  uint off_a, off_b, off_c, off_bias;
  uint sa_b, sa_m, sa_k, sb_b;
  uint sb_k, sb_n, sc_b, sc_m;
  uint sc_n, act, has_bias, dt_bias;
  float alpha, beta;
  uint k_chunk, s_bias;
  uint dt_c;  // C's dtype: only the epilogue reads it, so it is not a pipeline variant
  uint k_base;      // first K of this dispatch (passes over K where loops are limited)
  uint accumulate;  // 1: add to the partial sums of the previous pass
} pc;

// Same codes as ops::Activation.
float activate(float v) {
  if (pc.act == 1u) return max(v, 0.0);
  if (pc.act == 2u) return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
  if (pc.act == 3u) return v / (1.0 + exp(-v));
  return v;
}
#endif
