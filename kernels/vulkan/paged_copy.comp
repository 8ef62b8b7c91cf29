#version 450
// copy_blocks: an invocation per (pair, block row) copies the row's K and V elements (and the
// int8 scales) from block src to block dst. Pairs with an id outside [0, nb) are skipped.
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_COPY_PUSH
#include "paged_common.glsl"
layout(constant_id = 0) const uint DT_C = 0;
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer M { uint w[]; } tmap;
layout(std430, binding = 1) buffer KC { uint w[]; } tkc;
layout(std430, binding = 2) buffer VC { uint w[]; } tvc;
layout(std430, binding = 3) buffer KS { float v[]; } tks;
layout(std430, binding = 4) buffer VS { float v[]; } tvs;
PORTA_TENSOR_IO(tkc)
PORTA_TENSOR_IO(tvc)

// Entry e (0: src, 1: dst) of pair n as a block id, or -1 when outside [0, nb).
int block_id(uint n, uint e) {
  if ((pc.flags & 1u) != 0u) {
    const uint lo = tmap.w[(pc.off_map >> 2) + 4u * n + 2u * e], hi = tmap.w[(pc.off_map >> 2) + 4u * n + 2u * e + 1u];
    return hi == 0u && lo < pc.nb ? int(lo) : -1;
  }
  const int v = int(tmap.w[(pc.off_map >> 2) + 2u * n + e]);
  return v >= 0 && uint(v) < pc.nb ? v : -1;
}

void main() {
  const uint rows = pc.bs * pc.Hkv, total = pc.N * rows, ec = dt_size(DT_C);
  for (uint r = gl_GlobalInvocationID.x; r < total; r += gl_NumWorkGroups.x * 64u) {
    const uint n = r / rows, s = (r % rows) / pc.Hkv, h = r % pc.Hkv;
    const int src = block_id(n, 0u), dst = block_id(n, 1u);
    if (src < 0 || dst < 0 || src == dst) continue;
    const uint ks = pc.off_kc + (uint(src) * pc.sk_b + s * pc.sk_s + h * pc.sk_h) * ec;
    const uint kd = pc.off_kc + (uint(dst) * pc.sk_b + s * pc.sk_s + h * pc.sk_h) * ec;
    const uint vs = pc.off_vc + (uint(src) * pc.sv_b + s * pc.sv_s + h * pc.sv_h) * ec;
    const uint vd = pc.off_vc + (uint(dst) * pc.sv_b + s * pc.sv_s + h * pc.sv_h) * ec;
    for (uint d = 0; d < pc.D; ++d) {
      tkc_store_bits(DT_C, kd + d * ec, tkc_bits(DT_C, ks + d * ec));
      tvc_store_bits(DT_C, vd + d * ec, tvc_bits(DT_C, vs + d * ec));
    }
    if ((pc.flags & 2u) != 0u) {
      tks.v[(pc.off_ks >> 2) + uint(dst) * pc.sks_b + s * pc.sks_s + h * pc.sks_h] =
          tks.v[(pc.off_ks >> 2) + uint(src) * pc.sks_b + s * pc.sks_s + h * pc.sks_h];
      tvs.v[(pc.off_vs >> 2) + uint(dst) * pc.svs_b + s * pc.svs_s + h * pc.svs_h] =
          tvs.v[(pc.off_vs >> 2) + uint(src) * pc.svs_b + s * pc.svs_s + h * pc.svs_h];
    }
  }
}
