#version 450
// Paged attention, pass 1 (porta/serving.h): attention_decode.comp with block-table address
// translation. A workgroup takes one query row (sequence b, query i, head h; grid y) and one
// KV split (grid x), and writes its partial (max, sum, unnormalised output) for
// paged_reduce.comp. Invocation t scores key j0 + t of each run of WG keys: it looks its block
// up in the table, and a block id outside [0, nb) masks the key (never read). The V rows'
// addresses (and int8 scales) of the run go through shared memory to the output loop.
// Device values are clamped: cu_seqlens_q to [0, T], query counts to [0, max_q], lengths to
// [0, max_k]; rows past a sequence's queries exit (paged_reduce skips them too).
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_ATTN_PUSH
#include "paged_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint BS = 16;
layout(constant_id = 2) const uint KF = 0;
layout(constant_id = 3) const uint DT_Q = 0;
layout(constant_id = 4) const uint DT_KV = 0;  // plain: the cache dtype; int8/fp8: DT_I8
const uint WG = 128;
const uint NONE = 0xffffffffu;
layout(local_size_x = 128) in;
layout(std430, binding = 0) readonly buffer Q { uint w[]; } tq;
layout(std430, binding = 1) readonly buffer K { uint w[]; } tk;
layout(std430, binding = 2) readonly buffer V { uint w[]; } tv;
layout(std430, binding = 3) readonly buffer KS { uint w[]; } tks;
layout(std430, binding = 4) readonly buffer VS { uint w[]; } tvs;
layout(std430, binding = 5) readonly buffer TB { uint w[]; } ttab;
layout(std430, binding = 6) readonly buffer CU { uint w[]; } tcu;
layout(std430, binding = 7) readonly buffer LN { uint w[]; } tlen;
layout(std430, binding = 8) writeonly buffer P { float v[]; } part;  // [rows][splits][D + 2]

float kv_value(uint bits) {
  if (KF == KF_FP8) return fp8_to_f32(bits);
  return bits_to_value(DT_KV, bits);
}
uint tk_bits(uint addr) {
  const uint word = tk.w[addr >> 2];
  if (DT_KV == DT_F32) return word;
  if (DT_KV == DT_I8) return (word >> ((addr & 3u) * 8u)) & 0xffu;
  return (word >> ((addr & 2u) * 8u)) & 0xffffu;
}
uint tv_bits(uint addr) {
  const uint word = tv.w[addr >> 2];
  if (DT_KV == DT_F32) return word;
  if (DT_KV == DT_I8) return (word >> ((addr & 3u) * 8u)) & 0xffu;
  return (word >> ((addr & 2u) * 8u)) & 0xffffu;
}
uint tq_bits(uint addr) {
  const uint word = tq.w[addr >> 2];
  return DT_Q == DT_F32 ? word : (word >> ((addr & 2u) * 8u)) & 0xffffu;
}

shared float qs[D];
shared float ps[WG];
shared float red[WG];
shared uint vrow[WG];
const uint DPT = (D + WG - 1) / WG;

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint split = gl_WorkGroupID.x, splits = gl_NumWorkGroups.x;
  const uint Hq = pc.heads & 0xffffu, Hkv = pc.heads >> 16;
  const uint row = pc.row0 + gl_WorkGroupID.y;  // (b * max_q + i) * Hq + h
  const uint h = row % Hq, i = (row / Hq) % pc.max_q, b = row / (Hq * pc.max_q);
  const int cu0 = clamp(int(tcu.w[(pc.off_cu >> 2) + b]), 0, int(pc.T));
  const int cu1 = clamp(int(tcu.w[(pc.off_cu >> 2) + b + 1u]), 0, int(pc.T));
  const int qlen = clamp(cu1 - cu0, 0, int(pc.max_q));
  if (int(i) >= qlen) return;  // uniform in the workgroup
  const int len = clamp(int(tlen.w[(pc.off_lens >> 2) + b]), 0, int(pc.max_k));
  const int p = len - qlen + int(i);
  const int hi = (pc.flags & 1u) != 0u ? clamp(p + 1, 0, len) : len;
  // Keys > p - W, without forming p - W + 1 (p < 0 with more queries than keys, W up to 2^31 - 1).
  const int lo = pc.window > 0u && p >= int(pc.window) ? min(p - int(pc.window) + 1, len) : 0;
  const uint c0 = max(uint(lo), split * pc.chunk), c1 = min(uint(hi), split * pc.chunk + pc.chunk);
  const uint hk = h / (Hq / Hkv);
  const uint eq = dt_size(DT_Q), ekv = dt_size(DT_KV);
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const uint qb = pc.off_q + ((uint(cu0) + i) * Hq + h) * D * eq;
  for (uint d = tid; d < D; d += WG) qs[d] = bits_to_value(DT_Q, tq_bits(qb + d * eq)) * pc.scale;
  barrier();
  float m = neg_inf, l = 0.0;
  float o[DPT];
  for (uint k = 0; k < DPT; ++k) o[k] = 0.0;
  for (uint j0 = c0; j0 < c1; j0 += WG) {
    const uint j = j0 + tid;
    float s = neg_inf, vscale = 0.0;
    uint vr = NONE;
    if (j < c1) {
      const uint blk = j / BS, slot = j % BS;
      const int id = blk < pc.max_blocks ? int(ttab.w[(pc.off_tab >> 2) + b * pc.max_blocks + blk]) : -1;
      if (id >= 0 && uint(id) < pc.nb) {  // else: a bad block id, its keys skipped
        const uint kr = pc.off_k + (uint(id) * pc.sk_b + slot * pc.sk_s + hk * pc.sk_h) * ekv;
        float acc = 0.0;
        for (uint d = 0; d < D; ++d) acc = fma(qs[d], kv_value(tk_bits(kr + d * ekv)), acc);
        vscale = 1.0;
        if (KF == KF_INT8) {
          acc *= uintBitsToFloat(tks.w[(pc.off_ks >> 2) + uint(id) * pc.sks_b + slot * pc.sks_s + hk * pc.sks_h]);
          vscale = uintBitsToFloat(tvs.w[(pc.off_vs >> 2) + uint(id) * pc.svs_b + slot * pc.svs_s + hk * pc.svs_h]);
        }
        s = acc;
        vr = pc.off_v + (uint(id) * pc.sv_b + slot * pc.sv_s + hk * pc.sv_h) * ekv;
      }
    }
    red[tid] = s;
    vrow[tid] = vr;
    barrier();
    for (uint st = WG / 2u; st > 0u; st >>= 1) {
      if (tid < st) red[tid] = max(red[tid], red[tid + st]);
      barrier();
    }
    const float mx = max(m, red[0]);  // -inf only while every key so far was masked
    barrier();
    const float pj = s == neg_inf ? 0.0 : exp(s - mx);
    ps[tid] = pj * vscale;
    red[tid] = pj;
    barrier();
    for (uint st = WG / 2u; st > 0u; st >>= 1) {
      if (tid < st) red[tid] += red[tid + st];
      barrier();
    }
    const float alpha = m == neg_inf ? 0.0 : exp(m - mx);
    l = l * alpha + red[0];
    m = mx;
    const uint nk = min(WG, c1 - j0);
    for (uint k = 0; k < DPT; ++k) {
      const uint d = tid + k * WG;
      if (d >= D) break;
      float acc = o[k] * alpha;
      for (uint c = 0; c < nk; ++c) {
        const uint a = vrow[c];
        if (a != NONE) acc = fma(ps[c], kv_value(tv_bits(a + d * ekv)), acc);
      }
      o[k] = acc;
    }
    barrier();
  }
  const uint base = (gl_WorkGroupID.y * splits + split) * (D + 2u);
  for (uint k = 0; k < DPT; ++k) {
    const uint d = tid + k * WG;
    if (d < D) part.v[base + 2u + d] = o[k];
  }
  if (tid == 0u) {
    part.v[base] = m;
    part.v[base + 1u] = l;
  }
}
