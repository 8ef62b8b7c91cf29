#version 450
// Paged attention, pass 2: merges the splits' partials of one query row (grid x),
// out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s (zeros when no key was seen), times
// out_mul (an fp8 cache's v scale), and LSE = M + log(sum) (-inf when no key was seen).
// Rows past a sequence's clamped query count were not computed and are left alone; in a mixed
// batch (flags & 2) so are the rows of sequences with more than one query (paged_finalize's).
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_REDUCE_PUSH
#include "paged_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint DT_O = 0;
layout(local_size_x = 128) in;
layout(std430, binding = 0) readonly buffer P { float v[]; } part;
layout(std430, binding = 1) buffer O { uint w[]; } to;
layout(std430, binding = 2) buffer L { float v[]; } tlse;
layout(std430, binding = 3) readonly buffer CU { uint w[]; } tcu;
PORTA_TENSOR_IO(to)

void main() {
  const uint local_row = gl_WorkGroupID.x, splits = pc.splits;
  const uint Hq = pc.heads & 0xffffu;
  const uint row = pc.row0 + local_row;
  const uint h = row % Hq, i = (row / Hq) % pc.max_q, b = row / (Hq * pc.max_q);
  const int cu0 = clamp(int(tcu.w[(pc.off_cu >> 2) + b]), 0, int(pc.T));
  const int cu1 = clamp(int(tcu.w[(pc.off_cu >> 2) + b + 1u]), 0, int(pc.T));
  if (int(i) >= clamp(cu1 - cu0, 0, int(pc.max_q))) return;
  if ((pc.flags & 2u) != 0u && cu1 - cu0 != 1) return;  // a mixed batch: paged_finalize writes it
  const uint t = uint(cu0) + i;
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const uint eo = dt_size(DT_O);
  float M = neg_inf;
  for (uint s = 0; s < splits; ++s) M = max(M, part.v[(local_row * splits + s) * (D + 2u)]);
  float l = 0.0;
  if (M != neg_inf)
    for (uint s = 0; s < splits; ++s) {
      const float ms = part.v[(local_row * splits + s) * (D + 2u)];
      if (ms != neg_inf) l += exp(ms - M) * part.v[(local_row * splits + s) * (D + 2u) + 1u];
    }
  for (uint d = gl_LocalInvocationID.x; d < D; d += 128u) {
    float acc = 0.0;
    if (M != neg_inf)
      for (uint s = 0; s < splits; ++s) {
        const uint base = (local_row * splits + s) * (D + 2u);
        const float ms = part.v[base];
        if (ms != neg_inf) acc += exp(ms - M) * part.v[base + 2u + d];
      }
    to_store(DT_O, pc.off_o + ((t * Hq + h) * D + d) * eo, l > 0.0 ? acc / l * pc.out_mul : 0.0);
  }
  if ((pc.flags & 1u) != 0u && gl_LocalInvocationID.x == 0u)
    tlse.v[(pc.off_lse >> 2) + t * Hq + h] = l > 0.0 ? M + log(l) : neg_inf;
}
