// The attention kernels' push constants, declared once: attention_common.glsl expands this
// list into the GLSL block and src/backends/vulkan/attention.cpp into its C++ struct, so
// the two layouts cannot drift apart (all fields are 4 bytes: std430 and C++ agree).
// U: uint32 field, F: float field. flags: 1 kv_lens given, 2 causal. row0: split-KV, the
// first query row (b, h, i flattened) of this dispatch. q_tail: prefill, the query rows after
// this dispatch's slice (the causal mask counts them).
#ifndef PORTA_ATTENTION_PUSH_H
#define PORTA_ATTENTION_PUSH_H
#define PORTA_ATTENTION_PUSH(U, F)                                       \
  U(B) U(Hq) U(Hkv) U(Sq) U(Skv)                                         \
  U(sq_b) U(sq_h) U(sq_s) U(sq_d)                                        \
  U(sk_b) U(sk_h) U(sk_s) U(sk_d)                                        \
  U(sv_b) U(sv_h) U(sv_s) U(sv_d)                                        \
  U(so_b) U(so_h) U(so_s) U(so_d)                                        \
  U(off_q) U(off_k) U(off_v) U(off_o) U(off_lens)                        \
  U(flags) U(s_lens) U(chunk)                                           \
  F(scale)                                                               \
  U(row0) U(q_tail)
#endif
