// Attention, flash style: no Sq x Skv matrix is ever stored. One work-item owns one query
// row and one KV range and runs the online softmax (running max m, running sum l, f32
// accumulator) over its keys. Prefill uses one range per row (every query row is a
// work-item); decode (few rows, long KV) splits KV into `splits` ranges whose partial
// (m, l, acc) go to a workspace, combined by attention_combine. GQA/MQA map query head h
// to KV head h / (Hq / Hkv); causal rows see keys j <= i + (kv_len - Sq); kv_lens are
// clamped to [0, Skv]; rows that see no key are zeros. Head dims are multiples of 16,
// at most 256: rows are processed as float8 vectors.
// Compile-time: DT (dtype of q, k, v, out).
#define MAX_D8 32

inline float8 load8(global const uchar* base, long off, long i, long stride) {
  if (stride == 1) {
    global const uchar* p = base + off;
#if DT == DT_F32
    return vload8(0, (global const float*)p + i);
#elif DT == DT_F16
    return vload_half8(0, (global const half*)(p + 2 * i));
#else
    return as_float8(convert_uint8(vload8(0, (global const ushort*)p + i)) << 16);
#endif
  }
  float8 r;
  r.s0 = load_f(base, off, DT, i);
  r.s1 = load_f(base, off, DT, i + stride);
  r.s2 = load_f(base, off, DT, i + 2 * stride);
  r.s3 = load_f(base, off, DT, i + 3 * stride);
  r.s4 = load_f(base, off, DT, i + 4 * stride);
  r.s5 = load_f(base, off, DT, i + 5 * stride);
  r.s6 = load_f(base, off, DT, i + 6 * stride);
  r.s7 = load_f(base, off, DT, i + 7 * stride);
  return r;
}

inline float hsum8(float8 v) {
  const float4 a = v.lo + v.hi;
  const float2 b = a.lo + a.hi;
  return b.x + b.y;
}

kernel void attention_rows(int B, int Hq, int Hkv, int Sq, int Skv, int D, int causal, float scale,
                           int splits, int chunk, TENSOR_IN(q), TENSOR_IN(k), TENSOR_IN(v), TENSOR_OUT(o),
                           global const int* lens, long lens_off, long lens_st, int has_lens,
                           global float* work) {
  const long rows = (long)B * Hq * Sq;
  const long r = get_global_id(0);
  const int split = get_global_id(1);
  if (r >= rows || split >= splits) return;
  const int s = r % Sq, h = (r / Sq) % Hq, b = r / ((long)Sq * Hq);
  const int hk = h / (Hq / Hkv);
  int kv_len = Skv;
  if (has_lens) kv_len = clamp(lens[lens_off / 4 + b * lens_st], 0, Skv);
  int end = kv_len;
  if (causal) end = clamp(s + (kv_len - Sq) + 1, 0, kv_len);
  const int begin = min(end, split * chunk);
  const int stop = min(end, begin + chunk);
  const int D8 = D / 8;

  float8 qv[MAX_D8], acc[MAX_D8];
  const long qrow = b * q_st.s0 + h * q_st.s1 + s * q_st.s2;
  for (int t = 0; t < D8; ++t) {
    qv[t] = load8(q, q_off, qrow + 8 * t * q_st.s3, q_st.s3) * scale;
    acc[t] = (float8)(0.0f);
  }
  float m = -INFINITY, l = 0.0f;
  const long kbase = b * k_st.s0 + hk * k_st.s1, vbase = b * v_st.s0 + hk * v_st.s1;
  for (int j = begin; j < stop; ++j) {
    const long krow = kbase + j * k_st.s2, vrow = vbase + j * v_st.s2;
    float8 dv = (float8)(0.0f);
    for (int t = 0; t < D8; ++t) dv = FMA(qv[t], load8(k, k_off, krow + 8 * t * k_st.s3, k_st.s3), dv);
    const float score = hsum8(dv);
    if (score > m) {
      const float corr = exp(m - score);
      l *= corr;
      for (int t = 0; t < D8; ++t) acc[t] *= corr;
      m = score;
    }
    const float p = exp(score - m);
    l += p;
    for (int t = 0; t < D8; ++t)
      acc[t] = FMA((float8)(p), load8(v, v_off, vrow + 8 * t * v_st.s3, v_st.s3), acc[t]);
  }

  if (splits == 1) {
    const long orow = b * o_st.s0 + h * o_st.s1 + s * o_st.s2;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int t = 0; t < D8; ++t) {
      float tmp[8];
      vstore8(acc[t] * inv, 0, tmp);
      for (int e = 0; e < 8; ++e) store_f(o, o_off, DT, orow + (8 * t + e) * o_st.s3, tmp[e]);
    }
  } else {
    global float* w = work + (r * splits + split) * (long)(D + 2);
    w[0] = m;
    w[1] = l;
    for (int t = 0; t < D8; ++t) vstore8(acc[t], 0, w + 2 + 8 * t);
  }
}

// out[r, d] = sum_s acc_s[d] e^(m_s - M) / sum_s l_s e^(m_s - M), M = max_s m_s.
kernel void attention_combine(int B, int Hq, int Sq, int D, int splits, TENSOR_OUT(o),
                              global const float* work) {
  const long rows = (long)B * Hq * Sq;
  for (long i = get_global_id(0); i < rows * D; i += get_global_size(0)) {
    const long r = i / D;
    const int d = i % D;
    const int s = r % Sq, h = (r / Sq) % Hq, b = r / ((long)Sq * Hq);
    global const float* w = work + r * splits * (long)(D + 2);
    float mx = -INFINITY;
    for (int t = 0; t < splits; ++t) mx = fmax(mx, w[t * (D + 2)]);
    float num = 0.0f, den = 0.0f;
    if (mx != -INFINITY) {
      for (int t = 0; t < splits; ++t) {
        const float ms = w[t * (D + 2)];
        if (ms == -INFINITY) continue;
        const float f = exp(ms - mx);
        den += w[t * (D + 2) + 1] * f;
        num += w[t * (D + 2) + 2 + d] * f;
      }
    }
    store_f(o, o_off, DT, b * o_st.s0 + h * o_st.s1 + s * o_st.s2 + d * o_st.s3,
            den > 0.0f ? num / den : 0.0f);
  }
}
