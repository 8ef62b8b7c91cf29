#version 450
// Paged decode (max_seqlen_q == 1) on CPU-like devices: attention_decode_grouped.comp's
// scheme behind block tables, so dense and paged attention are one kernel family. A
// workgroup of LANES invocations (one subgroup, no shared memory, no barriers) takes one
// (sequence, KV head) and one KV split for the G = NR query heads of the GQA group, so each
// K/V row is read once for the group; one subgroupAdd completes a score, the online softmax
// runs in registers. Each key's block id is read from the table (the same word in every
// lane); an id outside [0, nb) skips the key. int8 caches scale scores and weights by the
// token's k/v scales; fp8 codes are decoded in registers (layer scales folded in by the host).
// Partials go to paged_reduce.comp: row (b * Hq + h) = unit * NR + r, as paged_attention.comp.
// Device values are clamped as there: cu_seqlens_q to [0, T], lengths to [0, max_k]. In a
// mixed batch (flags & 2, max_q pushed as 1) it takes the sequences of exactly one query and
// skips the others, which paged_prefill.comp serves in the same call.
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_ATTN_PUSH
#include "paged_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint LANES = 8;  // the workgroup: one subgroup
layout(constant_id = 2) const uint NR = 4;     // query heads per KV head (Hq / Hkv)
layout(constant_id = 3) const uint BS = 16;    // block size
layout(constant_id = 4) const uint KF = 0;     // KF_PLAIN, KF_INT8, KF_FP8
layout(constant_id = 5) const uint DT_Q = 0;
layout(constant_id = 6) const uint DT_KV = 0;  // plain: the cache dtype; int8/fp8: DT_I8
layout(local_size_x_id = 1) in;
layout(std430, binding = 0) buffer Q { uint w[]; } tq;
layout(std430, binding = 1) readonly buffer K { uvec4 v[]; } tk;
layout(std430, binding = 2) readonly buffer V { uvec4 v[]; } tv;
layout(std430, binding = 3) readonly buffer KS { float v[]; } tks;
layout(std430, binding = 4) readonly buffer VS { float v[]; } tvs;
layout(std430, binding = 5) readonly buffer TB { int w[]; } ttab;
layout(std430, binding = 6) readonly buffer CU { int w[]; } tcu;
layout(std430, binding = 7) readonly buffer LN { int w[]; } tlen;
layout(std430, binding = 8) writeonly buffer P { float v[]; } part;  // [rows][splits][D + 2]
PORTA_TENSOR_IO(tq)
#include "attention_grouped.glsl"

void main() {
  const uint lane = gl_LocalInvocationID.x;
  const uint split = gl_WorkGroupID.x, splits = gl_NumWorkGroups.x;
  const uint Hq = pc.heads & 0xffffu, Hkv = pc.heads >> 16;
  const uint u = pc.row0 / NR + gl_WorkGroupID.y;  // b * Hkv + hk
  const uint b = u / Hkv, hk = u % Hkv;
  const int cu0 = clamp(tcu.w[(pc.off_cu >> 2) + b], 0, int(pc.T));
  const int cu1 = clamp(tcu.w[(pc.off_cu >> 2) + b + 1u], 0, int(pc.T));
  if (min(cu1 - cu0, int(pc.max_q)) <= 0) return;  // no query: paged_reduce skips the rows too
  if ((pc.flags & 2u) != 0u && cu1 - cu0 != 1) return;  // a mixed batch's chunk: paged_prefill's
  const int len = clamp(tlen.w[(pc.off_lens >> 2) + b], 0, int(pc.max_k));
  // The one query sits at position len - 1: causal sees every key; a window only the last W.
  const int lo = pc.window > 0u ? max(len - int(pc.window), 0) : 0;
  const uint c0 = max(uint(lo), split * pc.chunk), c1 = min(uint(len), split * pc.chunk + pc.chunk);
  const uint eq = dt_size(DT_Q);
  const float neg_inf = uintBitsToFloat(0xff800000u);

  vec4 q[NR][E4], o[NR][E4];
  float m[NR], l[NR];
  for (uint r = 0; r < NR; ++r) {
    const uint qb = pc.off_q + ((uint(cu0) * Hq + hk * NR + r) * D + lane * E) * eq;
    for (uint c = 0; c < E4; ++c) {
      for (uint e = 0; e < 4u; ++e) q[r][c][e] = tq_load(DT_Q, qb + (c * 4u + e) * eq) * pc.scale;
      o[r][c] = vec4(0.0);
    }
    m[r] = neg_inf;
    l[r] = 0.0;
  }
  // Word addresses: the host checks 16-byte alignment of the offsets and block/slot/head strides.
  const uint kw = (pc.off_k + (hk * pc.sk_h + lane * E) * KVB) / 16u, kb = pc.sk_b * KVB / 16u,
             ks = pc.sk_s * KVB / 16u;
  const uint vw = (pc.off_v + (hk * pc.sv_h + lane * E) * KVB) / 16u, vb = pc.sv_b * KVB / 16u,
             vs = pc.sv_s * KVB / 16u;
  const uint tab = (pc.off_tab >> 2) + b * pc.max_blocks;
  // Block by block: one table read per block, then its keys at fixed strides.
  for (uint blk = c0 / BS; blk * BS < c1; ++blk) {
    const int id = blk < pc.max_blocks ? ttab.w[tab + blk] : -1;
    if (id < 0 || uint(id) >= pc.nb) continue;  // the same id in every lane: uniform
    const uint j0 = max(c0, blk * BS) - blk * BS, j1 = min(c1, blk * BS + BS) - blk * BS;
    const uint kr = kw + uint(id) * kb, vr = vw + uint(id) * vb;
    const uint ksr = (pc.off_ks >> 2) + uint(id) * pc.sks_b + hk * pc.sks_h;
    const uint vsr = (pc.off_vs >> 2) + uint(id) * pc.svs_b + hk * pc.svs_h;
    for (uint slot = j0; slot < j1; ++slot) {
      uvec4 rk[W], rv[W];
      for (uint w = 0; w < W; ++w) rk[w] = tk.v[kr + slot * ks + w];
      for (uint w = 0; w < W; ++w) rv[w] = tv.v[vr + slot * vs + w];
      const float kscale = KF == KF_INT8 ? tks.v[ksr + slot * pc.sks_s] : 1.0;
      const float vscale = KF == KF_INT8 ? tvs.v[vsr + slot * pc.svs_s] : 1.0;
      vec4 k[E4];
      for (uint c = 0; c < E4; ++c) k[c] = grouped_unpack4(rk, c);
      float s[NR];
      for (uint r = 0; r < NR; ++r) {
        float a = 0.0;
        for (uint c = 0; c < E4; ++c) a += dot(q[r][c], k[c]);
        s[r] = subgroupAdd(a) * kscale;  // uniform control flow: every lane at the same key
      }
      vec4 v[E4];
      for (uint c = 0; c < E4; ++c) v[c] = grouped_unpack4(rv, c);
      for (uint r = 0; r < NR; ++r) {
        float alpha, p;
        grouped_softmax_step(m[r], l[r], s[r], alpha, p);
        p *= vscale;
        for (uint c = 0; c < E4; ++c) o[r][c] = o[r][c] * alpha + p * v[c];
      }
    }
  }
  for (uint r = 0; r < NR; ++r) {
    const uint base = ((gl_WorkGroupID.y * NR + r) * splits + split) * (D + 2u);
    for (uint c = 0; c < E4; ++c)
      for (uint e = 0; e < 4u; ++e) part.v[base + 2u + lane * E + c * 4u + e] = o[r][c][e];
    if (lane == 0u) {
      part.v[base] = m[r];
      part.v[base + 1u] = l[r];
    }
  }
}
