#version 450
// Paged attention for query chunks (prefill, chunked prefill, mixed batches): the flash tiles
// of attention_prefill.comp with block-table address translation. A workgroup takes BR rows
// of one sequence and one KV head (grid y = (KV head, head tile)): QP query positions x GH
// query heads of the GQA group, so each staged K/V tile serves the whole group. The query
// tiles of all sequences share one index w = x + z * grid x, sequence after sequence
// (ceil(q_len / QP) tiles each, none for a sequence skipped by min_q); a workgroup finds its
// sequence by scanning cu_seqlens_q. floor(T / QP) + B workgroups cover every batch whose
// sequences' clamped query ranges do not overlap (a grid of B x ceil(max_q / QP) would launch
// mostly empty workgroups for a mixed batch's decode steps, ~0.1 ms each on llvmpipe). Keys go in tiles of BC staged in shared memory (block ids, and int8 scales, looked
// up once per key; a block id outside [0, nb) masks its keys, never read), with the online
// softmax per row. A pass walks at most REACH keys from k_begin (llvmpipe's loop budget) and
// keeps each row's running (max, sum, output) in `state`, indexed by token and head;
// paged_finalize.comp normalises it. Device values are clamped as paged_attention.comp does.
// Sequences with fewer than min_q queries are skipped (a mixed batch's decode steps, which
// paged_decode_grouped.comp takes: a workgroup here would spend most of its BR rows idle).
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_PREFILL_PUSH
#include "paged_common.glsl"
// Dtypes, cache format and block size are push-constant values (wflags), not specialisation
// constants: llvmpipe takes seconds to compile each variant of this shader.
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint BR = 16;  // rows per workgroup (QP * GH <= BR)
layout(constant_id = 2) const uint BC = 16;  // keys per tile
layout(constant_id = 3) const uint GH = 4;   // query heads per workgroup
layout(constant_id = 4) const uint REACH = 1024;
const uint WG = 128;
const uint QP = BR / GH;
layout(local_size_x = 128) in;
layout(std430, binding = 0) readonly buffer Q { uint w[]; } tq;
layout(std430, binding = 1) readonly buffer K { uint w[]; } tk;
layout(std430, binding = 2) readonly buffer V { uint w[]; } tv;
layout(std430, binding = 3) readonly buffer KS { uint w[]; } tks;
layout(std430, binding = 4) readonly buffer VS { uint w[]; } tvs;
layout(std430, binding = 5) readonly buffer TB { uint w[]; } ttab;
layout(std430, binding = 6) readonly buffer CU { uint w[]; } tcu;
layout(std430, binding = 7) readonly buffer LN { uint w[]; } tlen;
layout(std430, binding = 8) buffer S { float v[]; } state;  // [T, Hq, D + 2]: m, l, o

float kv_value(uint kf, uint dt, uint bits) {
  if (kf == KF_FP8) return fp8_to_f32(bits);
  return bits_to_value(dt, bits);
}
uint bits_at(uint word, uint dt, uint addr) {
  if (dt == DT_F32) return word;
  if (dt == DT_I8) return (word >> ((addr & 3u) * 8u)) & 0xffu;
  return (word >> ((addr & 2u) * 8u)) & 0xffffu;
}

shared float Qs[BR * D];
shared float Ks[BC * D];
shared float Vs[BC * D];
shared float Ss[BR * BC];
shared float row_m[BR], row_l[BR], row_alpha[BR];
shared int row_lo[BR], row_hi[BR];
shared uint key_row[BC], val_row[BC];  // cache element offsets of the tile's rows; NONE: masked
shared float key_scale[BC], val_scale[BC];
const uint NONE = 0xffffffffu;
const uint OPT = (BR * D + WG - 1) / WG;

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint Hq = pc.heads & 0xffffu, Hkv = pc.heads >> 16, G = Hq / Hkv;
  const uint g_tiles = (G + GH - 1) / GH;
  const uint hk = gl_WorkGroupID.y / g_tiles, g0 = (gl_WorkGroupID.y % g_tiles) * GH;
  // This workgroup's sequence b and first query i0 (uniform: every invocation scans alike).
  const uint w = gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x;
  uint b = pc.B, i0 = 0, tiles_before = 0;
  int cu0 = clamp(int(tcu.w[pc.off_cu >> 2]), 0, int(pc.T)), qlen = 0;
  for (uint s = 0; s < pc.B; ++s) {
    const int cu1 = clamp(int(tcu.w[(pc.off_cu >> 2) + s + 1u]), 0, int(pc.T));
    qlen = clamp(cu1 - cu0, 0, int(pc.max_q));
    const uint n = qlen < max(int(pc.min_q), 1) ? 0u : (uint(qlen) + QP - 1u) / QP;
    if (w - tiles_before < n) {
      b = s, i0 = (w - tiles_before) * QP;
      break;
    }
    tiles_before += n;
    cu0 = cu1;
  }
  if (b == pc.B) return;
  const int len = clamp(int(tlen.w[(pc.off_lens >> 2) + b]), 0, int(pc.max_k));
  const uint DT_Q = (pc.wflags >> 2) & 3u, DT_KV = (pc.wflags >> 4) & 3u, KF = (pc.wflags >> 6) & 3u;
  const uint BS = 16u << ((pc.wflags >> 8) & 3u), window = pc.wflags >> 10;
  const bool causal = (pc.wflags & 1u) != 0u;
  const uint eq = dt_size(DT_Q), ekv = dt_size(DT_KV);
  const float neg_inf = uintBitsToFloat(0xff800000u);

  // Rows r = (i - i0) * GH + (g - g0): visible key ranges, scaled queries, running state.
  if (tid < BR) {
    const uint r = tid, i = i0 + r / GH, g = g0 + r % GH;
    int lo = 0, hi = 0;
    if (r < QP * GH && int(i) < qlen && g < G) {
      const int p = len - qlen + int(i);
      hi = causal ? clamp(p + 1, 0, len) : len;
      lo = window > 0u ? clamp(p - int(window) + 1, 0, len) : 0;
    }
    row_lo[r] = lo;
    row_hi[r] = max(lo, hi);
  }
  barrier();
  int kmin = len, kmax = 0;
  for (uint r = 0; r < BR; ++r)
    if (row_hi[r] > row_lo[r]) kmin = min(kmin, row_lo[r]), kmax = max(kmax, row_hi[r]);
  const uint j_begin = max(uint(kmin) / BC * BC, pc.k_begin);
  const uint j_end = min(uint(kmax), pc.k_begin + REACH);
  const bool first = (pc.wflags & 2u) != 0u;
  if (!first && j_begin >= j_end) return;  // no key of this pass: the state stays as it is (uniform)
  for (uint e = tid; e < BR * D; e += WG) {
    const uint r = e / D, d = e % D, i = i0 + r / GH, g = g0 + r % GH;
    float x = 0.0;
    if (r < QP * GH && int(i) < qlen && g < G) {
      const uint a = pc.off_q + (((uint(cu0) + i) * Hq + hk * G + g) * D + d) * eq;
      x = bits_to_value(DT_Q, bits_at(tq.w[a >> 2], DT_Q, a)) * pc.scale;
    }
    Qs[e] = x;
  }
  barrier();
  if (tid < BR) {
    const uint r = tid, i = i0 + r / GH, g = g0 + r % GH;
    float m = neg_inf, l = 0.0;
    if (!first && row_hi[r] > row_lo[r]) {
      const uint sb = ((uint(cu0) + i) * Hq + hk * G + g) * (D + 2u);
      m = state.v[sb];
      l = state.v[sb + 1u];
    }
    row_m[r] = m;
    row_l[r] = l;
  }
  float o[OPT];
  for (uint k = 0; k < OPT; ++k) {
    const uint e = tid + k * WG, r = e / D, d = e % D, i = i0 + r / GH, g = g0 + r % GH;
    o[k] = 0.0;
    if (!first && e < BR * D && row_hi[r] > row_lo[r])
      o[k] = state.v[((uint(cu0) + i) * Hq + hk * G + g) * (D + 2u) + 2u + d];
  }
  barrier();

  for (uint j0 = j_begin; j0 < j_end; j0 += BC) {
    if (tid < BC) {  // the tile's block lookups
      const uint j = j0 + tid, blk = j / BS, slot = j % BS;
      uint kr = NONE, vr = NONE;
      float ksc = 1.0, vsc = 1.0;
      if (j < j_end && blk < pc.max_blocks) {
        const int id = int(ttab.w[(pc.off_tab >> 2) + b * pc.max_blocks + blk]);
        if (id >= 0 && uint(id) < pc.nb) {
          kr = uint(id) * pc.sk_b + slot * pc.sk_s + hk * pc.sk_h;
          vr = uint(id) * pc.sv_b + slot * pc.sv_s + hk * pc.sv_h;
          if (KF == KF_INT8) {
            ksc = uintBitsToFloat(tks.w[(pc.off_ks >> 2) + uint(id) * pc.sks_b + slot * pc.sks_s + hk * pc.sks_h]);
            vsc = uintBitsToFloat(tvs.w[(pc.off_vs >> 2) + uint(id) * pc.svs_b + slot * pc.svs_s + hk * pc.svs_h]);
          }
        }
      }
      key_row[tid] = kr;
      val_row[tid] = vr;
      key_scale[tid] = ksc;
      val_scale[tid] = vsc;
    }
    barrier();
    for (uint e = tid; e < BC * D; e += WG) {
      const uint c = e / D, d = e % D;
      float kx = 0.0, vx = 0.0;
      if (key_row[c] != NONE) {
        const uint ka = pc.off_k + (key_row[c] + d) * ekv, va = pc.off_v + (val_row[c] + d) * ekv;
        kx = kv_value(KF, DT_KV, bits_at(tk.w[ka >> 2], DT_KV, ka)) * key_scale[c];
        vx = kv_value(KF, DT_KV, bits_at(tv.w[va >> 2], DT_KV, va)) * val_scale[c];
      }
      Ks[e] = kx;
      Vs[e] = vx;
    }
    barrier();
    for (uint e = tid; e < BR * BC; e += WG) {
      const uint r = e / BC, c = e % BC;
      const int j = int(j0 + c);
      float s = neg_inf;
      if (key_row[c] != NONE && j >= row_lo[r] && j < row_hi[r]) {
        float acc = 0.0;
        for (uint d = 0; d < D; ++d) acc = fma(Qs[r * D + d], Ks[c * D + d], acc);
        s = acc;
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
  // The running state of each valid row (rows that see no key keep m = -inf, l = 0).
  for (uint k = 0; k < OPT; ++k) {
    const uint e = tid + k * WG;
    if (e >= BR * D) break;
    const uint r = e / D, d = e % D, i = i0 + r / GH, g = g0 + r % GH;
    if (r >= QP * GH || int(i) >= qlen || g >= G) continue;
    const uint sb = ((uint(cu0) + i) * Hq + hk * G + g) * (D + 2u);
    state.v[sb + 2u + d] = o[k];
    if (d == 0u) {
      state.v[sb] = row_m[r];
      state.v[sb + 1u] = row_l[r];
    }
  }
}
