#version 450
// kv_cache_write: an invocation per (token, KV head) stores the token's K and V rows at its
// slot: plain caches round once to their dtype, int8 caches get symmetric codes and the row's
// scale max|x| / 127, fp8 caches x / layer scale saturated to +-448. A slot outside
// [0, nb * bs) (-1: padding) skips the token, so nothing outside the cache is written.
#include "common.glsl"
#define PAGED_PUSH PORTA_PAGED_WRITE_PUSH
#include "paged_common.glsl"
layout(constant_id = 0) const uint DT_IN = 0;
layout(constant_id = 1) const uint KF = 0;
layout(constant_id = 2) const uint DT_C = 0;  // plain: the cache dtype; int8/fp8: DT_I8
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer KI { uint w[]; } tki;
layout(std430, binding = 1) buffer VI { uint w[]; } tvi;
layout(std430, binding = 2) readonly buffer SL { uint w[]; } tsl;
layout(std430, binding = 3) buffer KC { uint w[]; } tkc;
layout(std430, binding = 4) buffer VC { uint w[]; } tvc;
layout(std430, binding = 5) buffer KS { float v[]; } tks;
layout(std430, binding = 6) buffer VS { float v[]; } tvs;
PORTA_TENSOR_IO(tki)
PORTA_TENSOR_IO(tvi)
PORTA_TENSOR_IO(tkc)
PORTA_TENSOR_IO(tvc)

// Element d of the token's row of input `k` (else v), contiguous [T, Hkv, D].
float x_at(bool k, uint row, uint d) {
  const uint a = ((k ? pc.off_k : pc.off_v) + (row * pc.D + d) * dt_size(DT_IN));
  return k ? tki_load(DT_IN, a) : tvi_load(DT_IN, a);
}

void store(bool k, uint addr, uint bits) {
  if (k)
    tkc_store_bits(DT_C, addr, bits);
  else
    tvc_store_bits(DT_C, addr, bits);
}

void write_row(bool k, uint row, uint blk, uint slot, uint h) {
  const uint ec = dt_size(DT_C);
  const uint base = k ? pc.off_kc + (blk * pc.sk_b + slot * pc.sk_s + h * pc.sk_h) * ec
                      : pc.off_vc + (blk * pc.sv_b + slot * pc.sv_s + h * pc.sv_h) * ec;
  if (KF == KF_PLAIN) {
    for (uint d = 0; d < pc.D; ++d) store(k, base + d * ec, value_to_bits(DT_C, x_at(k, row, d)));
  } else if (KF == KF_INT8) {
    float amax = 0.0;
    for (uint d = 0; d < pc.D; ++d) amax = max(amax, abs(x_at(k, row, d)));
    const float inv = amax > 0.0 ? 127.0 / amax : 0.0;
    for (uint d = 0; d < pc.D; ++d)
      store(k, base + d, uint(int(clamp(roundEven(x_at(k, row, d) * inv), -127.0, 127.0))) & 0xffu);
    if (k)
      tks.v[(pc.off_ks >> 2) + blk * pc.sks_b + slot * pc.sks_s + h * pc.sks_h] = amax / 127.0;
    else
      tvs.v[(pc.off_vs >> 2) + blk * pc.svs_b + slot * pc.svs_s + h * pc.svs_h] = amax / 127.0;
  } else {
    const float s = k ? pc.k_scale : pc.v_scale;
    for (uint d = 0; d < pc.D; ++d) store(k, base + d, f32_to_fp8(x_at(k, row, d) / s));
  }
}

void main() {
  const uint total = pc.T * pc.Hkv, cap = pc.nb * pc.bs;
  for (uint r = gl_GlobalInvocationID.x; r < total; r += gl_NumWorkGroups.x * 64u) {
    const uint t = r / pc.Hkv, h = r % pc.Hkv;
    uint slot;
    bool ok;
    if ((pc.flags & 1u) != 0u) {  // i64: valid only with a zero high word
      slot = tsl.w[(pc.off_slots >> 2) + 2u * t];
      ok = tsl.w[(pc.off_slots >> 2) + 2u * t + 1u] == 0u && slot < cap;
    } else {
      const int s = int(tsl.w[(pc.off_slots >> 2) + t]);
      slot = uint(s);
      ok = s >= 0 && slot < cap;
    }
    if (!ok) continue;  // -1 (padding) and bad slots are skipped
    write_row(true, r, slot / pc.bs, slot % pc.bs, h);
    write_row(false, r, slot / pc.bs, slot % pc.bs, h);
  }
}
