#version 450
// Split-KV decode attention, pass 1: a workgroup takes one query row of one (batch, head)
// and `chunk` KV positions, and writes its partial (max, sum, unnormalised output) for
// attention_decode_reduce.comp to merge. Invocation t scores key j0 + t of each block of
// WG keys; the output dims are spread over the invocations.
#include "common.glsl"
#include "attention_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 3) const uint DT_Q = 0;
layout(constant_id = 4) const uint DT_KV = 0;
const uint WG = 128;
layout(local_size_x = 128) in;
layout(std430, binding = 0) buffer Q { uint w[]; } tq;
layout(std430, binding = 1) buffer K { uint w[]; } tk;
layout(std430, binding = 2) buffer V { uint w[]; } tv;
layout(std430, binding = 3) buffer P { float v[]; } part;  // [rows][splits][D + 2]
layout(std430, binding = 4) buffer L { uint w[]; } tl;
PORTA_TENSOR_IO(tq)
PORTA_TENSOR_IO(tk)
PORTA_TENSOR_IO(tv)
PORTA_TENSOR_IO(tl)

shared float qs[D];
shared float ps[WG];
shared float red[WG];
const uint DPT = (D + WG - 1) / WG;

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint split = gl_WorkGroupID.x, splits = gl_NumWorkGroups.x;
  const uint row = pc.row0 + gl_WorkGroupID.y;  // (b * Hq + h) * Sq + i
  const uint i = row % pc.Sq, h = (row / pc.Sq) % pc.Hq, b = row / (pc.Sq * pc.Hq);
  const uint hk = h / (pc.Hq / pc.Hkv);
  const uint eq = dt_size(DT_Q), ekv = dt_size(DT_KV);
  const uint L = kv_len(b, (pc.flags & 1u) != 0u ? int(tl_bits(DT_I32, pc.off_lens + b * pc.s_lens * 4u)) : 0);
  const uint lim = key_limit(i, L);
  const uint c0 = split * pc.chunk, c1 = min(lim, c0 + pc.chunk);
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const uint kb = pc.off_k + (b * pc.sk_b + hk * pc.sk_h) * ekv;
  const uint vb = pc.off_v + (b * pc.sv_b + hk * pc.sv_h) * ekv;
  for (uint d = tid; d < D; d += WG)
    qs[d] = tq_load(DT_Q, pc.off_q + (b * pc.sq_b + h * pc.sq_h + i * pc.sq_s + d * pc.sq_d) * eq);
  barrier();
  float m = neg_inf, l = 0.0;
  float o[DPT];
  for (uint k = 0; k < DPT; ++k) o[k] = 0.0;
  for (uint j0 = c0; j0 < c1; j0 += WG) {
    const uint j = j0 + tid;
    float s = neg_inf;
    if (j < c1) {
      float acc = 0.0;
      const uint kr = kb + j * pc.sk_s * ekv;
      for (uint d = 0; d < D; ++d) acc = fma(qs[d], tk_load(DT_KV, kr + d * pc.sk_d * ekv), acc);
      s = acc * pc.scale;
    }
    red[tid] = s;
    barrier();
    for (uint st = WG / 2u; st > 0u; st >>= 1) {
      if (tid < st) red[tid] = max(red[tid], red[tid + st]);
      barrier();
    }
    const float mx = max(m, red[0]);  // finite: j0 < c1 means at least one key
    barrier();
    const float p = s == neg_inf ? 0.0 : exp(s - mx);
    ps[tid] = p;
    red[tid] = p;
    barrier();
    for (uint st = WG / 2u; st > 0u; st >>= 1) {
      if (tid < st) red[tid] += red[tid + st];
      barrier();
    }
    const float alpha = m == neg_inf ? 0.0 : exp(m - mx);
    l = l * alpha + red[0];
    m = mx;
    const uint nb = min(WG, c1 - j0);
    for (uint k = 0; k < DPT; ++k) {
      const uint d = tid + k * WG;
      if (d >= D) break;
      float acc = o[k] * alpha;
      for (uint c = 0; c < nb; ++c)
        acc = fma(ps[c], tv_load(DT_KV, vb + ((j0 + c) * pc.sv_s + d * pc.sv_d) * ekv), acc);
      o[k] = acc;
    }
    barrier();
  }
  const uint base = (gl_WorkGroupID.y * splits + split) * (D + 2u);  // partials of this dispatch's rows
  for (uint k = 0; k < DPT; ++k) {
    const uint d = tid + k * WG;
    if (d < D) part.v[base + 2u + d] = o[k];
  }
  if (tid == 0u) {
    part.v[base] = m;
    part.v[base + 1u] = l;
  }
}
