// Index of the largest element of each row (first on ties; the first NaN wins, as in
// NumPy). Integers compare as integers (i32 does not fit a float exactly).

// Whether candidate (v, i) beats the current (bv, bi) under the NaN-first, first-index rule.
inline bool beats(float v, long i, float bv, long bi) {
  const bool vn = isnan(v), bn = isnan(bv);
  if (vn || bn) return vn && (!bn || i < bi);
  return v > bv || (v == bv && i < bi);
}

kernel void argmax_rows(long rows, long C, TENSOR_IN(x), int x_dt, global int* out, long out_off,
                        long out_st) {
  local float rv[ROW_WG];
  local long ri[ROW_WG];
  local int riv[ROW_WG];
  const int l = get_local_id(0);
  const bool ints = x_dt == DT_I8 || x_dt == DT_I32;
  for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
    const long xr = r * x_st.s2;
    float bv = NAN;
    int biv = 0;
    long bi = -1;
    for (long i = l; i < C; i += ROW_WG) {
      const long e = xr + i * x_st.s3;
      if (ints) {
        const int v =
            x_dt == DT_I8 ? (int)((global const char*)(x + x_off))[e] : ((global const int*)(x + x_off))[e];
        if (bi < 0 || v > biv) biv = v, bi = i;
      } else {
        const float v = load_f(x, x_off, x_dt, e);
        if (bi < 0 || beats(v, i, bv, bi)) bv = v, bi = i;
      }
    }
#if ROW_WG > 1
    rv[l] = bv;
    ri[l] = bi;
    riv[l] = biv;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ROW_WG / 2; s > 0; s >>= 1) {
      if (l < s && ri[l + s] >= 0) {
        const long oi = ri[l + s];
        bool take;
        if (ri[l] < 0)
          take = true;
        else if (ints)
          take = riv[l + s] > riv[l] || (riv[l + s] == riv[l] && oi < ri[l]);
        else
          take = beats(rv[l + s], oi, rv[l], ri[l]);
        if (take) rv[l] = rv[l + s], ri[l] = oi, riv[l] = riv[l + s];
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) out[out_off / 4 + r * out_st] = (int)ri[0];
    barrier(CLK_LOCAL_MEM_FENCE);
#else
    out[out_off / 4 + r * out_st] = (int)(bi < 0 ? 0 : bi);
#endif
  }
}
