// Element-wise ops over 4-d strided views with broadcasting (0 strides). Dimension 1 of the
// range strides over rows (every index of the first three dims), dimension 0 over the last
// dim: row offsets are computed once per row, the inner loop is a plain strided walk
// (vectorisable across work-items), and tensors past 2^31 elements need no huge range.
// kind follows backend::Elementwise: 0 silu_mul, 1 gelu_tanh, 2 gelu_erf, 3 add, 4 mul, 5 scale.
#define FOR_ROWS(shape) \
  for (long r = get_global_id(1), rows_ = shape.s0 * shape.s1 * shape.s2; r < rows_; r += get_global_size(1))
// CPU devices run a work-item's loop to the end before the next one starts: each takes a
// contiguous block of the row. GPUs interleave work-items so neighbours touch neighbours.
#if CPU_LAYOUT
#define FOR_COLS(shape)                                                                               \
  for (long n_ = (shape.s3 + get_global_size(0) - 1) / get_global_size(0), c = get_global_id(0) * n_, \
            e_ = min(shape.s3, c + n_);                                                               \
       c < e_; ++c)
#else
#define FOR_COLS(shape) for (long c = get_global_id(0); c < shape.s3; c += get_global_size(0))
#endif

kernel void elementwise(int kind, float alpha, long4 shape, TENSOR_IN(a), int a_dt, TENSOR_IN(b), int b_dt,
                        TENSOR_OUT(o), int o_dt) {
  FOR_ROWS(shape) {
    const long ar = row_offset(r, shape, a_st), br = row_offset(r, shape, b_st),
               orow = row_offset(r, shape, o_st);
    FOR_COLS(shape) {
      const float x = load_f(a, a_off, a_dt, ar + c * a_st.s3);
      float v;
      switch (kind) {
        case 0: v = silu_f(x) * load_f(b, b_off, b_dt, br + c * b_st.s3); break;
        case 1: v = gelu_tanh_f(x); break;
        case 2: v = gelu_erf_f(x); break;
        case 3: v = x + load_f(b, b_off, b_dt, br + c * b_st.s3); break;
        case 4: v = x * load_f(b, b_off, b_dt, br + c * b_st.s3); break;
        default: v = alpha * x; break;
      }
      store_f(o, o_off, o_dt, orow + c * o_st.s3, v);
    }
  }
}

// Any dtype to any dtype, rounding once. Integers reach f16/bf16 through a float rounded to
// odd, so the final rounding to the narrow format is the only one that counts.
kernel void cast(long4 shape, TENSOR_IN(a), int a_dt, TENSOR_OUT(o), int o_dt) {
  FOR_ROWS(shape) FOR_COLS(shape) {
    const long ai = row_offset(r, shape, a_st) + c * a_st.s3, oi = row_offset(r, shape, o_st) + c * o_st.s3;
    if (a_dt == DT_I8 || a_dt == DT_I32) {
      const int v =
          a_dt == DT_I8 ? (int)((global const char*)(a + a_off))[ai] : ((global const int*)(a + a_off))[ai];
      if (o_dt == DT_I32) {
        ((global int*)(o + o_off))[oi] = v;
      } else if (o_dt == DT_I8) {
        ((global char*)(o + o_off))[oi] = convert_char_sat(v);
      } else if (o_dt == DT_F32) {
        ((global float*)(o + o_off))[oi] = convert_float_rte(v);
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
kernel void copy_raw(int esize, long4 shape, TENSOR_IN(a), TENSOR_OUT(o)) {
  FOR_ROWS(shape) {
    const long ar = row_offset(r, shape, a_st), orow = row_offset(r, shape, o_st);
    if (esize == 4) {
      global const uint* src = (global const uint*)(a + a_off) + ar;
      global uint* dst = (global uint*)(o + o_off) + orow;
      FOR_COLS(shape) dst[c * o_st.s3] = src[c * a_st.s3];
    } else if (esize == 2) {
      global const ushort* src = (global const ushort*)(a + a_off) + ar;
      global ushort* dst = (global ushort*)(o + o_off) + orow;
      FOR_COLS(shape) dst[c * o_st.s3] = src[c * a_st.s3];
    } else {
      global const uchar* src = a + a_off + ar;
      global uchar* dst = o + o_off + orow;
      FOR_COLS(shape) dst[c * o_st.s3] = src[c * a_st.s3];
    }
  }
}

// Every element = the bit pattern `bits` (the host rounded the value to the dtype once).
kernel void fill_pattern(int esize, uint bits, long4 shape, TENSOR_OUT(o)) {
  FOR_ROWS(shape) FOR_COLS(shape) {
    const long oi = row_offset(r, shape, o_st) + c * o_st.s3;
    if (esize == 4)
      ((global uint*)(o + o_off))[oi] = bits;
    else if (esize == 2)
      ((global ushort*)(o + o_off))[oi] = (ushort)bits;
    else
      (o + o_off)[oi] = (uchar)bits;
  }
}

// out[n, :] = table[ids[n], :]; ids outside [0, V) give zero rows. Copies raw elements.
kernel void embedding(int esize, long N, long D, long V, TENSOR_IN(table), TENSOR_IN(ids), TENSOR_OUT(o)) {
  for (long r = get_global_id(1); r < N; r += get_global_size(1))
    for (long d = get_global_id(0); d < D; d += get_global_size(0)) {
      const int id = ((global const int*)(ids + ids_off))[r * ids_st.s3];
      const bool ok = id >= 0 && id < V;
      const long ti = (ok ? id : 0) * table_st.s2 + d * table_st.s3;
      const long oi = r * o_st.s2 + d * o_st.s3;
      if (esize == 4)
        ((global uint*)(o + o_off))[oi] = ok ? ((global const uint*)(table + table_off))[ti] : 0u;
      else if (esize == 2)
        ((global ushort*)(o + o_off))[oi] = ok ? ((global const ushort*)(table + table_off))[ti] : (ushort)0;
      else
        (o + o_off)[oi] = ok ? (table + table_off)[ti] : (uchar)0;
    }
}

// copy_raw in tr x tc tiles (grid-stride over tiles): for a transposing copy on a CPU device,
// a tile's source lines stay in cache while its destination rows are written.
kernel void copy_raw_tiled(int esize, int tr, int tc, long4 shape, TENSOR_IN(a), TENSOR_OUT(o)) {
  const long rows = shape.s0 * shape.s1 * shape.s2, cols = shape.s3;
  const long trows = (rows + tr - 1) / tr, tcols = (cols + tc - 1) / tc;
  for (long t = get_global_id(0); t < trows * tcols; t += get_global_size(0)) {
    const long r0 = (t / tcols) * tr, c0 = (t % tcols) * tc;
    const long r1 = min(rows, r0 + tr), c1 = min(cols, c0 + tc);
    for (long r = r0; r < r1; ++r) {
      const long ar = row_offset(r, shape, a_st), orow = row_offset(r, shape, o_st);
      for (long c = c0; c < c1; ++c) {
        const long ai = ar + c * a_st.s3, oi = orow + c * o_st.s3;
        if (esize == 4)
          ((global uint*)(o + o_off))[oi] = ((global const uint*)(a + a_off))[ai];
        else if (esize == 2)
          ((global ushort*)(o + o_off))[oi] = ((global const ushort*)(a + a_off))[ai];
        else
          (o + o_off)[oi] = (a + a_off)[ai];
      }
    }
  }
}
