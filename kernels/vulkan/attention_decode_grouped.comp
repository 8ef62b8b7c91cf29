#version 450
// Grouped split-KV attention, pass 1 (CPU-like devices: llvmpipe runs a workgroup of one
// subgroup as one SIMD loop, where every buffer or shared access costs a per-lane load and
// barriers switch coroutines, so this kernel uses neither shared memory nor barriers).
// A workgroup of LANES invocations takes one unit (batch, KV head, block of QB queries) and
// one split of the KV range, for the NR = G * QB query rows of the unit (G = Hq / Hkv), so
// each K/V row is read once for the whole GQA group and query block (decode: QB = Sq; prefill:
// blocks of queries). Invocation t holds dims [t*E, t*E + E) of every row's query and
// running output in registers and reads its slice of a K/V row as 16-byte words; one
// subgroupAdd completes a score; the online softmax runs in registers. Partials go to
// attention_decode_reduce.comp (NRU = NR), row r of unit u at index u * NR + r.
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
#include "attention_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint LANES = 8;  // the workgroup: one subgroup
layout(constant_id = 2) const uint NR = 4;     // query rows per workgroup: (Hq / Hkv) * QB
layout(constant_id = 3) const uint DT_Q = 0;
layout(constant_id = 4) const uint DT_KV = 0;  // f32, f16 or bf16; unit stride along D
layout(local_size_x_id = 1) in;
layout(std430, binding = 0) buffer Q { uint w[]; } tq;
layout(std430, binding = 1) buffer K { uvec4 v[]; } tk;
layout(std430, binding = 2) buffer V { uvec4 v[]; } tv;
layout(std430, binding = 3) buffer P { float v[]; } part;  // [rows][splits][D + 2]
layout(std430, binding = 4) buffer L { uint w[]; } tl;
PORTA_TENSOR_IO(tq)
PORTA_TENSOR_IO(tl)

#include "attention_grouped.glsl"

void main() {
  const uint lane = gl_LocalInvocationID.x;
  const uint split = gl_WorkGroupID.x, splits = gl_NumWorkGroups.x;
  const uint G = pc.Hq / pc.Hkv, QB = NR / G, nblk = (pc.Sq + QB - 1u) / QB;
  const uint u = pc.row0 / NR + gl_WorkGroupID.y;  // (b * Hkv + hk) * nblk + blk
  const uint grp = u / nblk, blk = u % nblk, b = grp / pc.Hkv, hk = grp % pc.Hkv;
  const uint eq = dt_size(DT_Q);
  const uint L = kv_len(b, (pc.flags & 1u) != 0u ? int(tl_bits(DT_I32, pc.off_lens + b * pc.s_lens * 4u)) : 0);
  const uint c0 = split * pc.chunk;
  const float neg_inf = uintBitsToFloat(0xff800000u);

  vec4 q[NR][E4], o[NR][E4];
  float m[NR], l[NR];
  uint lim[NR], kmax = 0u;
  for (uint r = 0; r < NR; ++r) {
    const uint h = hk * G + r / QB, il = blk * QB + r % QB, i = min(il, pc.Sq - 1u);
    lim[r] = il < pc.Sq ? key_limit(i, L) : 0u;  // rows past Sq (last block) see no key
    kmax = max(kmax, lim[r]);
    const uint qb = pc.off_q + (b * pc.sq_b + h * pc.sq_h + i * pc.sq_s + lane * E * pc.sq_d) * eq;
    for (uint c = 0; c < E4; ++c) {
      for (uint e = 0; e < 4u; ++e) q[r][c][e] = tq_load(DT_Q, qb + (c * 4u + e) * pc.sq_d * eq) * pc.scale;
      o[r][c] = vec4(0.0);
    }
    m[r] = neg_inf;
    l[r] = 0.0;
  }
  const uint c1 = min(kmax, c0 + pc.chunk);  // causal: keys no row of the unit sees are skipped
  // Word addresses: the host checks 16-byte alignment of offsets and row strides.
  const uint kw = (pc.off_k + ((b * pc.sk_b + hk * pc.sk_h) + lane * E) * KVB) / 16u, ks = pc.sk_s * KVB / 16u;
  const uint vw = (pc.off_v + ((b * pc.sv_b + hk * pc.sv_h) + lane * E) * KVB) / 16u, vs = pc.sv_s * KVB / 16u;
  for (uint j = c0; j < c1; ++j) {
    uvec4 rk[W], rv[W];
    for (uint w = 0; w < W; ++w) rk[w] = tk.v[kw + j * ks + w];
    for (uint w = 0; w < W; ++w) rv[w] = tv.v[vw + j * vs + w];
    vec4 k[E4];
    for (uint c = 0; c < E4; ++c) k[c] = grouped_unpack4(rk, c);
    float s[NR];
    for (uint r = 0; r < NR; ++r) {
      float a = 0.0;
      for (uint c = 0; c < E4; ++c) a += dot(q[r][c], k[c]);
      const float t = subgroupAdd(a);  // in uniform control flow: every lane at the same j
      s[r] = j < lim[r] ? t : neg_inf;
    }
    vec4 v[E4];
    for (uint c = 0; c < E4; ++c) v[c] = grouped_unpack4(rv, c);
    for (uint r = 0; r < NR; ++r) {
      float alpha, p;
      grouped_softmax_step(m[r], l[r], s[r], alpha, p);
      for (uint c = 0; c < E4; ++c) o[r][c] = o[r][c] * alpha + p * v[c];
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
