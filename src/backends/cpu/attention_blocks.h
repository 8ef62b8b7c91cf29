// Block kernels of the split-KV decode, written as plain loops the compiler
// vectorises. Included twice: by attention_blocks_avx2.cpp (AVX2/FMA flags) and by
// attention_decode.cpp (portable); the namespace the includer opens keeps them apart.
// Not a normal header: no include guard on purpose.

/// s[r*n + j] = dot(q[r*D .. +D], k[j*ks .. +D]) for r < R, j < n.
inline void decode_scores(const float* q, int64_t R, int64_t D, const float* k, int64_t ks, int64_t n,
                          float* s) {
  for (int64_t j = 0; j < n; ++j) {
    const float* kr = k + j * ks;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {  // four query rows share each K load
      const float* q0 = q + r * D;
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int64_t d = 0; d < D; ++d) {
        a0 += q0[d] * kr[d];
        a1 += q0[D + d] * kr[d];
        a2 += q0[2 * D + d] * kr[d];
        a3 += q0[3 * D + d] * kr[d];
      }
      s[r * n + j] = a0;
      s[(r + 1) * n + j] = a1;
      s[(r + 2) * n + j] = a2;
      s[(r + 3) * n + j] = a3;
    }
    for (; r < R; ++r) {
      float a = 0;
      for (int64_t d = 0; d < D; ++d) a += q[r * D + d] * kr[d];
      s[r * n + j] = a;
    }
  }
}

/// acc[r*D + d] += sum_j p[r*n + j] * v[j*vs + d].
inline void decode_accumulate(const float* p, int64_t R, int64_t n, const float* v, int64_t vs, int64_t D,
                              float* acc) {
  for (int64_t r = 0; r < R; ++r) {
    float* ar = acc + r * D;
    const float* pr = p + r * n;
    for (int64_t j = 0; j < n; ++j) {
      const float w = pr[j];
      if (w == 0.0f) continue;
      const float* vr = v + j * vs;
      for (int64_t d = 0; d < D; ++d) ar[d] += w * vr[d];
    }
  }
}
