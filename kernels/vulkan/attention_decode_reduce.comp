#version 450
// Split-KV decode attention, pass 2: merges the splits' partials of one query row,
// out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s (zeros when no key was seen).
// Rows in (b, h, i) order, or with NRU > 0 in attention_decode_grouped's unit order.
#include "common.glsl"
#include "attention_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 5) const uint DT_O = 0;
layout(constant_id = 6) const uint NRU = 0;  // rows per grouped unit (0: plain row order)
layout(local_size_x = 128) in;
layout(std430, binding = 0) buffer P { float v[]; } part;
layout(std430, binding = 1) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(to)

void main() {
  const uint local = gl_WorkGroupID.x, splits = pc.chunk;  // chunk carries the split count here
  const uint row = pc.row0 + local;
  uint i = row % pc.Sq, h = (row / pc.Sq) % pc.Hq, b = row / (pc.Sq * pc.Hq);
  if (NRU != 0u) {
    const uint G = pc.Hq / pc.Hkv, QB = NRU / G, nblk = (pc.Sq + QB - 1u) / QB;
    const uint u = row / NRU, r = row % NRU, grp = u / nblk;
    b = grp / pc.Hkv;
    h = (grp % pc.Hkv) * G + r / QB;
    i = (u % nblk) * QB + r % QB;
    if (i >= pc.Sq) return;  // a padding row of the last query block
  }
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const uint eo = dt_size(DT_O);
  float M = neg_inf;
  for (uint s = 0; s < splits; ++s) M = max(M, part.v[(local * splits + s) * (D + 2u)]);
  float l = 0.0;
  if (M != neg_inf)
    for (uint s = 0; s < splits; ++s) {
      const float ms = part.v[(local * splits + s) * (D + 2u)];
      if (ms != neg_inf) l += exp(ms - M) * part.v[(local * splits + s) * (D + 2u) + 1u];
    }
  for (uint d = gl_LocalInvocationID.x; d < D; d += 128u) {
    float acc = 0.0;
    if (M != neg_inf)
      for (uint s = 0; s < splits; ++s) {
        const uint base = (local * splits + s) * (D + 2u);
        const float ms = part.v[base];
        if (ms != neg_inf) acc += exp(ms - M) * part.v[base + 2u + d];
      }
    const uint addr = pc.off_o + (b * pc.so_b + h * pc.so_h + i * pc.so_s + d * pc.so_d) * eo;
    to_store(DT_O, addr, l > 0.0 ? acc / l : 0.0);
  }
}
