// The serving cache ops (porta/serving.h). kv_cache_write: a work-item per (token, KV head)
// stores the token's K and V rows at its slot (plain: rounded once to the cache dtype; int8:
// symmetric codes with the row's scale max|x|/127; fp8 e4m3fn: x / layer scale, saturated to
// +-448). copy_blocks: a work-item per (pair, block row) copies the row's bytes of K and V (and
// the int8 scales). Slots and block ids come from the device: out-of-range ones are skipped,
// so nothing outside the cache is written. Compile-time: DT_IN (input dtype), KT (plain cache
// dtype), KF (0 plain, 1 int8, 2 fp8), IDX64 (slots / mapping are i64), ES (cache element bytes).

inline long index_at(global const uchar* p, long off, long i) {
#if IDX64
  return ((global const long*)(p + off))[i];
#else
  return ((global const int*)(p + off))[i];
#endif
}

// f32 to fp8 e4m3fn, round to nearest even, saturating to +-448 (NaN stays NaN).
inline uchar f32_to_e4m3(float x) {
  const uint sign = (as_uint(x) >> 24) & 0x80u;
  if (isnan(x)) return (uchar)0x7f;
  const float a = fmin(fabs(x), 448.0f);
  if (a < 0x1p-6f) return (uchar)(sign | (uint)rint(a * 512.0f));  // subnormal grid 2^-9 (8: the first normal)
  uint u = as_uint(a);
  u += 0x7ffffu + ((u >> 20) & 1u);  // round the mantissa to 3 bits, ties to even
  const uint e = (u >> 23) - 120u, m = (u >> 20) & 7u;  // rebias 127 -> 7
  return (uchar)(sign | (e << 3) | m);
}

inline void write_row(global const uchar* in, long in_off, long4 in_st, int t, int h, int D, global uchar* c,
                      long c_off, long4 c_st, global uchar* sc, long sc_off, long4 sc_st, long blk, long slot,
                      float fp8_scale) {
  const long src = t * in_st.s1 + h * in_st.s2;
  const long dst = blk * c_st.s0 + slot * c_st.s1 + h * c_st.s2;
#if KF == 0
  for (int d = 0; d < D; ++d) store_f(c, c_off, KT, dst + d, load_f(in, in_off, DT_IN, src + d * in_st.s3));
#elif KF == 1
  float amax = 0.0f;
  for (int d = 0; d < D; ++d) amax = fmax(amax, fabs(load_f(in, in_off, DT_IN, src + d * in_st.s3)));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  global char* q = (global char*)(c + c_off) + dst;
  for (int d = 0; d < D; ++d)
    q[d] = (char)clamp(rint(load_f(in, in_off, DT_IN, src + d * in_st.s3) * inv), -127.0f, 127.0f);
  ((global float*)(sc + sc_off))[blk * sc_st.s1 + slot * sc_st.s2 + h * sc_st.s3] = amax / 127.0f;
#else
  global uchar* q = (global uchar*)(c + c_off) + dst;
  for (int d = 0; d < D; ++d) q[d] = f32_to_e4m3(load_f(in, in_off, DT_IN, src + d * in_st.s3) / fp8_scale);
#endif
}

kernel void kv_cache_write(int T, int Hkv, int D, long num_blocks, int bs, TENSOR_IN(kin), TENSOR_IN(vin),
                           TENSOR_IN(slots), TENSOR_OUT(kc), TENSOR_OUT(vc), TENSOR_OUT(ks), TENSOR_OUT(vs),
                           float k_scale, float v_scale) {
  const long gid = get_global_id(0);
  if (gid >= (long)T * Hkv) return;
  const int t = gid / Hkv, h = gid - (long)t * Hkv;
  const long slot = index_at(slots, slots_off, t * slots_st.s3);
  if (slot < 0 || slot >= num_blocks * bs) return;  // -1 (padding) and bad slots are skipped
  const long blk = slot / bs, off = slot - blk * bs;
  write_row(kin, kin_off, kin_st, t, h, D, kc, kc_off, kc_st, ks, ks_off, ks_st, blk, off, k_scale);
  write_row(vin, vin_off, vin_st, t, h, D, vc, vc_off, vc_st, vs, vs_off, vs_st, blk, off, v_scale);
}

inline void copy_bytes(global uchar* base, long off, long4 st, long src, long dst, long s, int h, int bytes) {
  global const uchar* from = base + off + (src * st.s0 + s * st.s1 + h * st.s2) * ES;
  global uchar* to = base + off + (dst * st.s0 + s * st.s1 + h * st.s2) * ES;
  int i = 0;
  for (; i + 16 <= bytes; i += 16) vstore16(vload16(0, from + i), 0, to + i);
  for (; i < bytes; ++i) to[i] = from[i];
}

kernel void copy_blocks(int N, long num_blocks, int bs, int Hkv, int D, TENSOR_IN(map), TENSOR_OUT(kc),
                        TENSOR_OUT(vc), TENSOR_OUT(ks), TENSOR_OUT(vs), int has_scales) {
  const long gid = get_global_id(0);
  if (gid >= (long)N * bs * Hkv) return;
  const int p = gid / ((long)bs * Hkv), r = gid - (long)p * bs * Hkv, s = r / Hkv, h = r - s * Hkv;
  const long src = index_at(map, map_off, p * map_st.s2), dst = index_at(map, map_off, p * map_st.s2 + map_st.s3);
  if (src < 0 || src >= num_blocks || dst < 0 || dst >= num_blocks || src == dst) return;
  copy_bytes(kc, kc_off, kc_st, src, dst, s, h, D * ES);
  copy_bytes(vc, vc_off, vc_st, src, dst, s, h, D * ES);
  if (has_scales) {
    global float* a = (global float*)(ks + ks_off);
    global float* b = (global float*)(vs + vs_off);
    a[dst * ks_st.s1 + s * ks_st.s2 + h * ks_st.s3] = a[src * ks_st.s1 + s * ks_st.s2 + h * ks_st.s3];
    b[dst * vs_st.s1 + s * vs_st.s2 + h * vs_st.s3] = b[src * vs_st.s1 + s * vs_st.s2 + h * vs_st.s3];
  }
}
