// The grouped split-KV scheme's per-invocation pieces, shared by attention_decode_grouped.comp
// (dense caches) and paged_decode_grouped.comp (block tables): an invocation holds E = D /
// LANES dims of every row and reads its slice of a K/V row as W 16-byte words. The includer
// defines D, LANES and DT_KV, and (paged, after paged_common.glsl) KF, before including this.
#ifndef PORTA_ATTENTION_GROUPED_GLSL
#define PORTA_ATTENTION_GROUPED_GLSL

const uint E = D / LANES;  // dims per invocation (the host checks W is whole)
const uint E4 = E / 4;
const uint KVB = DT_KV == DT_F32 ? 4u : (DT_KV == DT_I8 ? 1u : 2u);  // bytes per K/V element
const uint W = E * KVB / 16u;                                           // 16-byte words per row slice

// Elements 4c .. 4c+3 of an invocation's slice from its W words. f16: unpackHalf2x16 is
// exact; bf16: the high half of an f32; int8 (KF_INT8): signed codes, the caller scales;
// fp8 (KF_FP8): e4m3fn codes, the layer scale folded in by the host.
vec4 grouped_unpack4(uvec4 r[W], uint c) {
  if (DT_KV == DT_F32) return uintBitsToFloat(r[c]);
  if (DT_KV == DT_I8) {
    const uint w = r[c / 4u][c % 4u];
#if defined(PORTA_PAGED_COMMON_GLSL)  // fp8 caches exist only behind block tables
    if (KF == KF_FP8)
      return vec4(fp8_to_f32(w & 0xffu), fp8_to_f32((w >> 8) & 0xffu), fp8_to_f32((w >> 16) & 0xffu),
                  fp8_to_f32(w >> 24));
#endif
    const int s = int(w);
    return vec4(bitfieldExtract(s, 0, 8), bitfieldExtract(s, 8, 8), bitfieldExtract(s, 16, 8),
                bitfieldExtract(s, 24, 8));
  }
  const uvec4 w = r[c / 2u];
  const uvec2 p = (c & 1u) == 0u ? w.xy : w.zw;
  if (DT_KV == DT_F16) return vec4(unpackHalf2x16(p.x), unpackHalf2x16(p.y));
  return uintBitsToFloat(uvec4(p.x << 16, p.x & 0xffff0000u, p.y << 16, p.y & 0xffff0000u));
}

// One key's online-softmax step for a row with score s (-inf: masked): the factor that
// rescales the running output and the key's weight; m and l updated.
void grouped_softmax_step(inout float m, inout float l, float s, out float alpha, out float p) {
  const float neg_inf = uintBitsToFloat(0xff800000u);
  const float mx = max(m, s);
  alpha = m == neg_inf ? 0.0 : exp(m - mx);
  p = s == neg_inf ? 0.0 : exp(s - mx);
  l = l * alpha + p;
  m = mx;
}
#endif
