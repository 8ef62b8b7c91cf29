#version 450
// Paged attention after paged_prefill.comp's passes: row t * Hq + h (grid x, from row0) of the
// running state becomes out = o / l times out_mul (an fp8 cache's v scale; zeros when no key
// was seen) and LSE = m + log(l) (-inf then). A token no sequence's clamped query range covers
// was not computed, and its output rows are left alone (the sequences are scanned for it); in a
// mixed batch (flags & 2) neither are one-query sequences' tokens (paged_reduce writes them).
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_REDUCE_PUSH
#include "paged_common.glsl"
layout(constant_id = 0) const uint D = 128;
layout(constant_id = 1) const uint DT_O = 0;
layout(local_size_x = 128) in;
layout(std430, binding = 0) readonly buffer S { float v[]; } state;
layout(std430, binding = 1) buffer O { uint w[]; } to;
layout(std430, binding = 2) buffer L { float v[]; } tlse;
layout(std430, binding = 3) readonly buffer CU { uint w[]; } tcu;
PORTA_TENSOR_IO(to)

void main() {
  const uint Hq = pc.heads & 0xffffu;
  const uint row = pc.row0 + gl_WorkGroupID.x, t = row / Hq;
  const int min_q = (pc.flags & 2u) != 0u ? 2 : 1;
  bool covered = false;
  for (uint b = 0; b < pc.B && !covered; ++b) {
    const int cu0 = clamp(int(tcu.w[(pc.off_cu >> 2) + b]), 0, int(pc.T));
    const int cu1 = clamp(int(tcu.w[(pc.off_cu >> 2) + b + 1u]), 0, int(pc.T));
    const int qlen = clamp(cu1 - cu0, 0, int(pc.max_q));
    covered = qlen >= min_q && int(t) >= cu0 && int(t) < cu0 + qlen;
  }
  if (!covered) return;
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const uint sb = row * (D + 2u), eo = dt_size(DT_O);
  const float m = state.v[sb], l = state.v[sb + 1u];
  for (uint d = gl_LocalInvocationID.x; d < D; d += 128u)
    to_store(DT_O, pc.off_o + (row * D + d) * eo, l > 0.0 ? state.v[sb + 2u + d] / l * pc.out_mul : 0.0);
  if ((pc.flags & 1u) != 0u && gl_LocalInvocationID.x == 0u)
    tlse.v[(pc.off_lse >> 2) + row] = l > 0.0 ? m + log(l) : neg_inf;
}
