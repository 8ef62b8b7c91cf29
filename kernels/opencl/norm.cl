// rms_norm and layer_norm over the last dim. One work-group of ROW_WG work-items per row
// (ROW_WG = 1 on CPU devices: a work-item walks the whole row). Sums are compensated
// (Kahan) so rows of 10^5 elements keep f32 accuracy; layer_norm takes a centred variance.

inline float hsum8(float8 v) {
  const float4 a = v.lo + v.hi;
  const float2 b = a.lo + a.hi;
  return b.x + b.y;
}

#define KAHAN_ADD(sum, comp, v) \
  {                             \
    const float y_ = (v)-comp;  \
    const float t_ = sum + y_;  \
    comp = (t_ - sum) - y_;     \
    sum = t_;                   \
  }

// mode 0: rms_norm, 1: layer_norm (bias optional: has_bias).
kernel void norm_rows(int mode, long rows, long4 shape, float eps, TENSOR_IN(x), int x_dt, TENSOR_IN(w),
                      int w_dt, TENSOR_IN(bias), int bias_dt, int has_bias, TENSOR_OUT(o), int o_dt) {
  local float red[ROW_WG];
  const long D = shape.s3;
  const int l = get_local_id(0);
  for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
    const long xr = row_offset(r, shape, x_st), orow = row_offset(r, shape, o_st);
#if ROW_WG == 1
    // CPU devices: f32 rows with unit strides in 8-wide vectors, 8 compensated partial sums.
    if (x_dt == DT_F32 && o_dt == DT_F32 && w_dt == DT_F32 && x_st.s3 == 1 && o_st.s3 == 1 && w_st.s3 == 1 &&
        (!has_bias || (bias_dt == DT_F32 && bias_st.s3 == 1))) {
      global const float* xp = (global const float*)(x + x_off) + xr;
      global float* op = (global float*)(o + o_off) + orow;
      global const float* wp = (global const float*)(w + w_off);
      global const float* bp = (global const float*)(bias + bias_off);
      const long D8 = D / 8 * 8;
      float mean8 = 0.0f;
      if (mode == 1) {
        float8 s8 = (float8)(0.0f), c8 = (float8)(0.0f);
        float st = 0.0f;
        for (long i = 0; i < D8; i += 8) KAHAN_ADD8(s8, c8, vload8(0, xp + i));
        for (long i = D8; i < D; ++i) st += xp[i];
        mean8 = (hsum8(s8) + st) / (float)D;
      }
      float8 q8 = (float8)(0.0f), k8 = (float8)(0.0f);
      float qt = 0.0f;
      for (long i = 0; i < D8; i += 8) {
        const float8 v = vload8(0, xp + i) - mean8;
        KAHAN_ADD8(q8, k8, v * v);
      }
      for (long i = D8; i < D; ++i) qt = FMA(xp[i] - mean8, xp[i] - mean8, qt);
      const float inv8 = rsqrt((hsum8(q8) + qt) / (float)D + eps);
      for (long i = 0; i < D8; i += 8) {
        float8 v = (vload8(0, xp + i) - mean8) * inv8 * vload8(0, wp + i);
        if (has_bias) v += vload8(0, bp + i);
        vstore8(v, 0, op + i);
      }
      for (long i = D8; i < D; ++i) op[i] = (xp[i] - mean8) * inv8 * wp[i] + (has_bias ? bp[i] : 0.0f);
      continue;
    }
#endif
    float mean = 0.0f;
    if (mode == 1) {
      float s = 0.0f, c = 0.0f;
      for (long i = l; i < D; i += ROW_WG) KAHAN_ADD(s, c, load_f(x, x_off, x_dt, xr + i * x_st.s3));
      mean = group_sum(s, red) / (float)D;
    }
    float s = 0.0f, c = 0.0f;
    for (long i = l; i < D; i += ROW_WG) {
      const float v = load_f(x, x_off, x_dt, xr + i * x_st.s3) - mean;
      KAHAN_ADD(s, c, v * v);
    }
    const float inv = rsqrt(group_sum(s, red) / (float)D + eps);
    for (long i = l; i < D; i += ROW_WG) {
      float v = (load_f(x, x_off, x_dt, xr + i * x_st.s3) - mean) * inv * load_f(w, w_off, w_dt, i * w_st.s3);
      if (has_bias) v += load_f(bias, bias_off, bias_dt, i * bias_st.s3);
      store_f(o, o_off, o_dt, orow + i * o_st.s3, v);
    }
  }
}
