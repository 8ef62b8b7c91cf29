// softmax(scale * x + mask) over the last dim; the mask broadcasts through 0 strides.
// Three passes over the row (max, sum, write) so nothing row-sized is kept. A row whose
// every logit is -inf is written as zeros.

kernel void softmax_rows(long rows, long4 shape, float scale, TENSOR_IN(x), int x_dt, TENSOR_IN(m), int m_dt,
                         int has_mask, TENSOR_OUT(o), int o_dt) {
  local float red[ROW_WG];
  const long D = shape.s3;
  const int l = get_local_id(0);
  for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
    const long xr = row_offset(r, shape, x_st), orow = row_offset(r, shape, o_st);
    const long mr = has_mask ? row_offset(r, shape, m_st) : 0;
#if ROW_WG == 1
    // CPU devices: unmasked f32 rows with unit strides in 8-wide vectors (vector exp); the
    // exponentials are written once and rescaled in place.
    if (!has_mask && x_dt == DT_F32 && o_dt == DT_F32 && x_st.s3 == 1 && o_st.s3 == 1) {
      global const float* xp = (global const float*)(x + x_off) + xr;
      global float* op = (global float*)(o + o_off) + orow;
      const long D8 = D / 8 * 8;
      float8 m8 = (float8)(-INFINITY);
      float mt = -INFINITY;
      for (long i = 0; i < D8; i += 8) m8 = fmax(m8, scale * vload8(0, xp + i));
      for (long i = D8; i < D; ++i) mt = fmax(mt, scale * xp[i]);
      const float4 m4 = fmax(m8.lo, m8.hi);
      const float2 m2 = fmax(m4.lo, m4.hi);
      const float mx8 = fmax(fmax(m2.x, m2.y), mt);
      if (mx8 == -INFINITY) {
        for (long i = 0; i < D; ++i) op[i] = 0.0f;
        continue;
      }
      float8 s8 = (float8)(0.0f), c8 = (float8)(0.0f);
      float st = 0.0f;
      for (long i = 0; i < D8; i += 8) {
        const float8 e = exp(scale * vload8(0, xp + i) - mx8);
        KAHAN_ADD8(s8, c8, e);
        vstore8(e, 0, op + i);
      }
      for (long i = D8; i < D; ++i) {
        const float e = exp(scale * xp[i] - mx8);
        st += e;
        op[i] = e;
      }
      const float4 s4 = s8.lo + s8.hi;
      const float2 s2 = s4.lo + s4.hi;
      const float inv8 = 1.0f / (s2.x + s2.y + st);
      for (long i = 0; i < D8; i += 8) vstore8(vload8(0, op + i) * inv8, 0, op + i);
      for (long i = D8; i < D; ++i) op[i] *= inv8;
      continue;
    }
#endif
#define LOGIT(i)                                      \
  (scale * load_f(x, x_off, x_dt, xr + (i)*x_st.s3) + \
   (has_mask ? load_f(m, m_off, m_dt, mr + (i)*m_st.s3) : 0.0f))
    float mx = -INFINITY;
    for (long i = l; i < D; i += ROW_WG) mx = fmax(mx, LOGIT(i));
    mx = group_max(mx, red);
    float s = 0.0f, c = 0.0f;
    for (long i = l; i < D; i += ROW_WG) {
      const float y = exp(LOGIT(i) - mx) - c;
      const float t = s + y;
      c = (t - s) - y;
      s = t;
    }
    s = group_sum(s, red);
    const bool dead = mx == -INFINITY;
    const float inv = 1.0f / s;
    for (long i = l; i < D; i += ROW_WG)
      store_f(o, o_off, o_dt, orow + i * o_st.s3, dead ? 0.0f : exp(LOGIT(i) - mx) * inv);
#undef LOGIT
  }
}
