// The quantized-weight kernels' push constants, declared once: quant_common.glsl expands
// this list into the GLSL block and src/backends/vulkan/quant.cpp into its C++ struct (all
// fields 4 bytes, 32 of them: exactly the guaranteed 128 bytes). U: uint32, F: float.
// Weight: K, group (elements per scale; K for per-channel / per-tensor), codes at byte
// off_q with row stride rs_q bytes, scales (off_s bytes, element strides rs_s / cs_s, dtype
// dt_s), f16 zeros (off_z, rs_z, cs_z). "a": the activations of gemm, the ids of embedding,
// the dense input of quantize (dt_a its dtype). "c": the output of gemm / dequantize /
// embedding. flags: 1 bias, 2 perm (off_perm, s_perm), 4 ids (rows come from "a"), 8 one
// scale for the tensor. row0: the first weight row of this dispatch.
#ifndef PORTA_QUANT_PUSH_H
#define PORTA_QUANT_PUSH_H
#define PORTA_QUANT_PUSH(U, F)                                   \
  U(K) U(group) U(off_q) U(rs_q)                                 \
  U(off_s) U(rs_s) U(cs_s) U(dt_s)                               \
  U(off_z) U(rs_z) U(cs_z)                                       \
  U(M) U(N) U(unit)                                              \
  U(off_a) U(rs_a) U(cs_a) U(dt_a)                               \
  U(off_c) U(rs_c) U(cs_c) U(dt_c)                               \
  U(off_bias) U(s_bias) U(dt_bias) U(flags)                      \
  F(alpha) F(beta) U(act) U(off_perm) U(s_perm) U(row0)
#endif
