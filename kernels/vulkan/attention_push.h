// The attention kernels' push constants, declared once: attention_common.glsl expands this
// list into the GLSL block and src/backends/vulkan/attention.cpp into its C++ struct, so
// the two layouts cannot drift apart (all fields are 4 bytes: std430 and C++ agree).
// U: uint32 field, F: float field.
#ifndef PORTA_ATTENTION_PUSH_H
#define PORTA_ATTENTION_PUSH_H
#define PORTA_ATTENTION_PUSH(U, F)                                       \
  U(B) U(Hq) U(Hkv) U(Sq) U(Skv)                                         \
  U(sq_b) U(sq_h) U(sq_s) U(sq_d)                                        \
  U(sk_b) U(sk_h) U(sk_s) U(sk_d)                                        \
  U(sv_b) U(sv_h) U(sv_s) U(sv_d)                                        \
  U(so_b) U(so_h) U(so_s) U(so_d)                                        \
  U(off_q) U(off_k) U(off_v) U(off_o) U(off_lens)                        \
  U(has_lens) U(causal) U(s_lens) U(chunk)                               \
  F(scale)
#endif
