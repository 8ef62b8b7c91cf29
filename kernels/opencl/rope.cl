// Rotary embedding on [B, H, S, D] views. One work-item per rotated pair or passed-through
// element. Positions reach 10^6 and more, where an f32 angle p*f is off by ~0.1 rad: the
// angle is formed as a float-float product (frequencies come from the host in double as
// hi/lo pairs) and reduced modulo 2*pi with a three-part constant before sin/cos.
inline float rope_angle(int p, float2 f) {
  const float ph = (float)p;
  const float pl = (float)((long)p - (long)ph);
  const float hi = ph * f.x;
  const float lo = fma(ph, f.x, -hi) + ph * f.y + pl * f.x;
  const float k = rint(hi * 0.15915494309189535f);
  float r = fma(-k, 0x1.921fb6p+2f, hi);
  r = fma(-k, -0x1.777a5cp-23f, r);
  r = fma(-k, -0x1.0p-47f, r);
  return r + lo;
}

// style 0: NeoX pairs (i, i + R/2); 1: GPT-J pairs (2i, 2i + 1).
kernel void rope(int style, int R, long4 shape, TENSOR_IN(x), int x_dt, TENSOR_IN(pos),
                 global const float2* freq, TENSOR_OUT(o), int o_dt) {
  const long D = shape.s3, half_r = R / 2, per_row = D - half_r;
  const long n = shape.s0 * shape.s1 * shape.s2 * per_row;
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    long row = i / per_row;
    const long j = i % per_row;
    const long s = row % shape.s2;
    row /= shape.s2;
    const long h = row % shape.s1, b = row / shape.s1;
    const long xr = b * x_st.s0 + h * x_st.s1 + s * x_st.s2;
    const long orow = b * o_st.s0 + h * o_st.s1 + s * o_st.s2;
    if (j < half_r) {
      const long i0 = style == 0 ? j : 2 * j, i1 = style == 0 ? j + half_r : 2 * j + 1;
      const int p = ((global const int*)(pos + pos_off))[b * pos_st.s2 + s * pos_st.s3];
      const float a = rope_angle(p, freq[j]);
      const float c = cos(a), sn = sin(a);
      const float x0 = load_f(x, x_off, x_dt, xr + i0 * x_st.s3),
                  x1 = load_f(x, x_off, x_dt, xr + i1 * x_st.s3);
      store_f(o, o_off, o_dt, orow + i0 * o_st.s3, x0 * c - x1 * sn);
      store_f(o, o_off, o_dt, orow + i1 * o_st.s3, x1 * c + x0 * sn);
    } else {
      const long d = j + half_r;
      store_f(o, o_off, o_dt, orow + d * o_st.s3, load_f(x, x_off, x_dt, xr + d * x_st.s3));
    }
  }
}
