// Element-wise ops over 4-d strided views with broadcasting (0 strides): one work-item per
// output element in a grid-stride loop (tensors may exceed 2^31 elements).
// kind follows backend::Elementwise: 0 silu_mul, 1 gelu_tanh, 2 gelu_erf, 3 add, 4 mul, 5 scale.
kernel void elementwise(int kind, float alpha, long n, long4 shape, TENSOR_IN(a), int a_dt, TENSOR_IN(b),
                        int b_dt, TENSOR_OUT(o), int o_dt) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    const long4 c = unravel4(i, shape);
    const float x = load_f(a, a_off, a_dt, dot4(c, a_st));
    float r;
    switch (kind) {
      case 0: r = silu_f(x) * load_f(b, b_off, b_dt, dot4(c, b_st)); break;
      case 1: r = gelu_tanh_f(x); break;
      case 2: r = gelu_erf_f(x); break;
      case 3: r = x + load_f(b, b_off, b_dt, dot4(c, b_st)); break;
      case 4: r = x * load_f(b, b_off, b_dt, dot4(c, b_st)); break;
      default: r = alpha * x; break;
    }
    store_f(o, o_off, o_dt, dot4(c, o_st), r);
  }
}

// Any dtype to any dtype, rounding once. Integers reach f16/bf16 through a float rounded to
// odd, so the final rounding to the narrow format is the only one that counts.
kernel void cast(long n, long4 shape, TENSOR_IN(a), int a_dt, TENSOR_OUT(o), int o_dt) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    const long4 c = unravel4(i, shape);
    const long ai = dot4(c, a_st), oi = dot4(c, o_st);
    if (a_dt == DT_I8 || a_dt == DT_I32) {
      const int v = a_dt == DT_I8 ? (int)((global const char *)(a + a_off))[ai]
                                  : ((global const int *)(a + a_off))[ai];
      if (o_dt == DT_I32) {
        ((global int *)(o + o_off))[oi] = v;
      } else if (o_dt == DT_I8) {
        ((global char *)(o + o_off))[oi] = convert_char_sat(v);
      } else if (o_dt == DT_F32) {
        ((global float *)(o + o_off))[oi] = convert_float_rte(v);
      } else {
        float f = convert_float_rtz(v);
        if (convert_int_rtz(f) != v) f = as_float(as_uint(f) | 1u);
        store_f(o, o_off, o_dt, oi, f);
      }
    } else {
      store_f(o, o_off, o_dt, oi, load_f(a, a_off, a_dt, ai));
    }
  }
}

// Bit-exact copy by element size (1, 2 or 4 bytes): NaN payloads and -0 survive.
kernel void copy_raw(int esize, long n, long4 shape, TENSOR_IN(a), TENSOR_OUT(o)) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    const long4 c = unravel4(i, shape);
    const long ai = dot4(c, a_st), oi = dot4(c, o_st);
    if (esize == 4)
      ((global uint *)(o + o_off))[oi] = ((global const uint *)(a + a_off))[ai];
    else if (esize == 2)
      ((global ushort *)(o + o_off))[oi] = ((global const ushort *)(a + a_off))[ai];
    else
      (o + o_off)[oi] = (a + a_off)[ai];
  }
}

// Every element = the bit pattern `bits` (the host rounded the value to the dtype once).
kernel void fill_pattern(int esize, uint bits, long n, long4 shape, TENSOR_OUT(o)) {
  for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
    const long oi = dot4(unravel4(i, shape), o_st);
    if (esize == 4)
      ((global uint *)(o + o_off))[oi] = bits;
    else if (esize == 2)
      ((global ushort *)(o + o_off))[oi] = (ushort)bits;
    else
      (o + o_off)[oi] = (uchar)bits;
  }
}

// out[n, :] = table[ids[n], :]; ids outside [0, V) give zero rows. Copies raw elements.
kernel void embedding(int esize, long N, long D, long V, TENSOR_IN(table), TENSOR_IN(ids), TENSOR_OUT(o)) {
  const long total = N * D;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long r = i / D, d = i % D;
    const int id = ((global const int *)(ids + ids_off))[r * ids_st.s3];
    const bool ok = id >= 0 && id < V;
    const long ti = (ok ? id : 0) * table_st.s2 + d * table_st.s3;
    const long oi = r * o_st.s2 + d * o_st.s3;
    if (esize == 4)
      ((global uint *)(o + o_off))[oi] = ok ? ((global const uint *)(table + table_off))[ti] : 0u;
    else if (esize == 2)
      ((global ushort *)(o + o_off))[oi] = ok ? ((global const ushort *)(table + table_off))[ti] : (ushort)0;
    else
      (o + o_off)[oi] = ok ? (table + table_off)[ti] : (uchar)0;
  }
}
