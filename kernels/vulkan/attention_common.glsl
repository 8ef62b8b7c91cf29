// Attention push constants and the masking rule shared by the prefill and decode kernels:
// query i of Sq sees keys j < lim(i), where L is the batch's KV length (kv_lens clamped
// to [0, Skv], else Skv) and causal masks align to the end of the KV sequence.
#ifndef PORTA_ATTENTION_COMMON_GLSL
#define PORTA_ATTENTION_COMMON_GLSL
layout(push_constant) uniform PC {
  uint B, Hq, Hkv, Sq, Skv;
  uint sq_b, sq_h, sq_s, sq_d;
  uint sk_b, sk_h, sk_s, sk_d;
  uint sv_b, sv_h, sv_s, sv_d;
  uint so_b, so_h, so_s, so_d;
  uint off_q, off_k, off_v, off_o, off_lens;
  uint has_lens, causal, s_lens, chunk;
  float scale;
} pc;

uint kv_len(uint b, int lens_value) {
  if (pc.has_lens == 0u) return pc.Skv;
  return uint(clamp(lens_value, 0, int(pc.Skv)));
}
uint key_limit(uint i, uint L) {
  if (pc.causal == 0u) return L;
  return uint(clamp(int(i) + int(L) - int(pc.Sq) + 1, 0, int(L)));
}
#endif
