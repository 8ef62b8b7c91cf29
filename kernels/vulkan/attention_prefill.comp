#version 450
// FlashAttention-style prefill: a workgroup takes BR query rows of one (batch, head), walks
// the keys in tiles of BC staged in shared memory with an online softmax (running max and
// sum per row), and never forms the Sq x Skv matrix. GQA maps query head h to KV head
// h / (Hq / Hkv). Rows that see no key give zeros.
#include "common.glsl"
#include "attention_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint BR = 16;
layout(constant_id = 2) const uint BC = 16;
layout(constant_id = 3) const uint DT_Q = 0;
layout(constant_id = 4) const uint DT_KV = 0;
layout(constant_id = 5) const uint DT_O = 0;
const uint WG = 128;
layout(local_size_x = 128) in;
layout(std430, binding = 0) buffer Q { uint w[]; } tq;
layout(std430, binding = 1) buffer K { uint w[]; } tk;
layout(std430, binding = 2) buffer V { uint w[]; } tv;
layout(std430, binding = 3) buffer O { uint w[]; } to;
layout(std430, binding = 4) buffer L { uint w[]; } tl;
PORTA_TENSOR_IO(tq)
PORTA_TENSOR_IO(tk)
PORTA_TENSOR_IO(tv)
PORTA_TENSOR_IO(to)
PORTA_TENSOR_IO(tl)

shared float Qs[BR * D];
shared float Ks[BC * D];
shared float Vs[BC * D];
shared float Ss[BR * BC];
shared float row_m[BR], row_l[BR], row_alpha[BR];
const uint OPT = (BR * D + WG - 1) / WG;  // output elements per invocation

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint i0 = gl_WorkGroupID.x * BR, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint hk = h / (pc.Hq / pc.Hkv);
  const uint eq = dt_size(DT_Q), ekv = dt_size(DT_KV), eo = dt_size(DT_O);
  const uint L = kv_len(b, (pc.flags & 1u) != 0u ? int(tl_bits(DT_I32, pc.off_lens + b * pc.s_lens * 4u)) : 0);
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const uint qb = pc.off_q + (b * pc.sq_b + h * pc.sq_h) * eq;
  const uint kb = pc.off_k + (b * pc.sk_b + hk * pc.sk_h) * ekv;
  const uint vb = pc.off_v + (b * pc.sv_b + hk * pc.sv_h) * ekv;

  for (uint e = tid; e < BR * D; e += WG) {
    const uint r = e / D, d = e % D, i = i0 + r;
    Qs[e] = i < pc.Sq ? tq_load(DT_Q, qb + (i * pc.sq_s + d * pc.sq_d) * eq) : 0.0;
  }
  if (tid < BR) {
    row_m[tid] = neg_inf;
    row_l[tid] = 0.0;
  }
  float o[OPT];
  for (uint k = 0; k < OPT; ++k) o[k] = 0.0;
  const uint last = min(i0 + BR, pc.Sq) - 1u;
  const uint kmax = key_limit(last, L);  // the last row sees the most keys
  barrier();

  for (uint j0 = 0; j0 < kmax; j0 += BC) {
    for (uint e = tid; e < BC * D; e += WG) {
      const uint c = e / D, d = e % D, j = j0 + c;
      const bool ok = j < L;
      Ks[e] = ok ? tk_load(DT_KV, kb + (j * pc.sk_s + d * pc.sk_d) * ekv) : 0.0;
      Vs[e] = ok ? tv_load(DT_KV, vb + (j * pc.sv_s + d * pc.sv_d) * ekv) : 0.0;
    }
    barrier();
    for (uint e = tid; e < BR * BC; e += WG) {
      const uint r = e / BC, c = e % BC, i = i0 + r;
      float s = neg_inf;
      if (i < pc.Sq && j0 + c < key_limit(i, L)) {
        float acc = 0.0;
        for (uint d = 0; d < D; ++d) acc = fma(Qs[r * D + d], Ks[c * D + d], acc);
        s = acc * pc.scale;
      }
      Ss[e] = s;
    }
    barrier();
    if (tid < BR) {
      const uint r = tid;
      float mx = row_m[r];
      for (uint c = 0; c < BC; ++c) mx = max(mx, Ss[r * BC + c]);
      float alpha = 1.0, sum = 0.0;
      if (mx != neg_inf) {
        alpha = row_m[r] == neg_inf ? 0.0 : exp(row_m[r] - mx);
        for (uint c = 0; c < BC; ++c) {
          const float s = Ss[r * BC + c];
          const float p = s == neg_inf ? 0.0 : exp(s - mx);
          Ss[r * BC + c] = p;
          sum += p;
        }
      } else {
        for (uint c = 0; c < BC; ++c) Ss[r * BC + c] = 0.0;
      }
      row_l[r] = row_l[r] * alpha + sum;
      row_m[r] = mx;
      row_alpha[r] = alpha;
    }
    barrier();
    for (uint k = 0; k < OPT; ++k) {
      const uint e = tid + k * WG;
      if (e >= BR * D) break;
      const uint r = e / D, d = e % D;
      float acc = o[k] * row_alpha[r];
      for (uint c = 0; c < BC; ++c) acc = fma(Ss[r * BC + c], Vs[c * D + d], acc);
      o[k] = acc;
    }
    barrier();
  }
  for (uint k = 0; k < OPT; ++k) {
    const uint e = tid + k * WG;
    if (e >= BR * D) break;
    const uint r = e / D, d = e % D, i = i0 + r;
    if (i >= pc.Sq) continue;
    const float l = row_l[r];
    const uint addr = pc.off_o + (b * pc.so_b + h * pc.so_h + i * pc.so_s + d * pc.so_d) * eo;
    to_store(DT_O, addr, l > 0.0 ? o[k] / l : 0.0);
  }
}
