// Attention push constants (attention_push.h) and the masking rule shared by the prefill and decode kernels:
// query i of Sq sees keys j < lim(i), where L is the batch's KV length (kv_lens clamped
// to [0, Skv], else Skv) and causal masks align to the end of the KV sequence (a dispatch
// that takes a slice of the queries is told how many follow it, q_tail).
#ifndef PORTA_ATTENTION_COMMON_GLSL
#define PORTA_ATTENTION_COMMON_GLSL
#include "attention_push.h"
#define PORTA_PUSH_U(n) uint n;
#define PORTA_PUSH_F(n) float n;
layout(push_constant) uniform PC { PORTA_ATTENTION_PUSH(PORTA_PUSH_U, PORTA_PUSH_F) } pc;

uint kv_len(uint b, int lens_value) {
  if ((pc.flags & 1u) == 0u) return pc.Skv;
  return uint(clamp(lens_value, 0, int(pc.Skv)));
}
uint key_limit(uint i, uint L) {
  if ((pc.flags & 2u) == 0u) return L;
  return uint(clamp(int(i) + int(L) - int(pc.Sq + pc.q_tail) + 1, 0, int(L)));
}
#endif
