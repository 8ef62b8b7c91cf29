// Push constants of the non-attention shaders, declared once: each shader expands its list
// into its GLSL block and src/backends/vulkan/push.h into a C++ struct, so a field added,
// removed or reordered on one side is on both (push.h also checks that every uvec4 starts at
// a 16-byte boundary, where std430 puts it, and that nothing is padded). PU: uint32,
// PF: float, PV: uvec4 (uint32_t[4] in C++). Shapes and strides are right-aligned into 4
// slots; off_*: byte offsets; dt_*: porta::DType codes.
#ifndef PORTA_OPS_PUSH_H
#define PORTA_OPS_PUSH_H

// elementwise.comp (kind: backend::Elementwise codes). contiguous: every operand dense with
// out's shape, element i sits at i.
#define PORTA_ELEMENTWISE_PUSH(PU, PF, PV)                                   \
  PV(shape) PV(so) PV(sa) PV(sb) PU(off_o) PU(off_a) PU(off_b) PU(n)         \
  PU(kind) PU(dt_o) PU(dt_a) PU(dt_b) PF(alpha) PU(contiguous)
// cast_copy.comp. contiguous: both dense with the same shape.
#define PORTA_CAST_COPY_PUSH(PU, PF, PV) \
  PV(shape) PV(so) PV(sa) PU(off_o) PU(off_a) PU(n) PU(dt_o) PU(dt_a) PU(contiguous)
// copy_vec4.comp: offsets and count in 16-byte units.
#define PORTA_COPY_VEC4_PUSH(PU, PF, PV) PU(off_o) PU(off_a) PU(n)
// fill.comp. bits: the value's bit pattern in the dtype; contiguous: dense view.
#define PORTA_FILL_PUSH(PU, PF, PV) \
  PV(shape) PV(strides) PU(offset) PU(n) PU(dt) PU(bits) PU(contiguous)
// Row ops (row_reduce.glsl): row0, row_end: PHASE 0: this dispatch's rows; PHASE 1/2: row0 +
// workgroup y. chunk, nchunks, c0: PHASE 1/2 (split rows): elements per chunk, chunks per
// row, first chunk.
// norm.comp (rms_norm, layer_norm): sw, sb: weight and bias strides.
#define PORTA_NORM_PUSH(PU, PF, PV)                                                          \
  PV(shape) PV(sx) PV(so) PU(sw) PU(sb) PU(off_x) PU(off_w) PU(off_b) PU(off_o)             \
  PU(dt_x) PU(dt_w) PU(dt_b) PU(dt_o) PF(eps) PU(layer) PU(has_bias)                        \
  PU(row0) PU(row_end) PU(chunk) PU(nchunks) PU(c0)
// softmax.comp (sm: the mask's strides).
#define PORTA_SOFTMAX_PUSH(PU, PF, PV)                                                       \
  PV(shape) PV(sx) PV(sm) PV(so) PU(off_x) PU(off_m) PU(off_o) PU(dt_x) PU(dt_m) PU(dt_o)    \
  PF(scale) PU(has_mask) PU(row0) PU(row_end) PU(chunk) PU(nchunks) PU(c0)
// argmax.comp: x [R, C], out [R].
#define PORTA_ARGMAX_PUSH(PU, PF, PV)                                                        \
  PU(R) PU(C) PU(sx_r) PU(sx_c) PU(so_r) PU(off_x) PU(off_o) PU(dt)                         \
  PU(row0) PU(row_end) PU(chunk) PU(nchunks) PU(c0)
// rope.comp: shape B, H, S, D; sp_*: positions' strides; half_rot: rotated pairs.
#define PORTA_ROPE_PUSH(PU, PF, PV)                                                          \
  PV(shape) PV(sx) PV(so) PU(sp_b) PU(sp_s) PU(off_x) PU(off_p) PU(off_o)                   \
  PU(dt_x) PU(dt_o) PU(half_rot) PU(neox)
// embedding.comp: table [V, D], ids [N], out [N, D].
#define PORTA_EMBEDDING_PUSH(PU, PF, PV)                                                     \
  PU(V) PU(D) PU(N) PU(dt) PU(st_v) PU(st_d) PU(s_ids) PU(so_n) PU(so_d)                    \
  PU(off_t) PU(off_ids) PU(off_o)
// gemm_common.glsl (gemm_tiled, gemm_small_m, gemm_splitk_reduce, gemm_coopmat_nv). dt_c:
// C's dtype (only the epilogue reads it, so not a pipeline variant); k_base: first K of this
// dispatch (passes over K where loops are limited); accumulate: 1 adds to the partial sums
// of the previous pass.
#define PORTA_GEMM_PUSH(PU, PF, PV)                                                          \
  PU(M) PU(N) PU(K) PU(splits) PU(off_a) PU(off_b) PU(off_c) PU(off_bias)                   \
  PU(sa_b) PU(sa_m) PU(sa_k) PU(sb_b) PU(sb_k) PU(sb_n) PU(sc_b) PU(sc_m)                   \
  PU(sc_n) PU(act) PU(has_bias) PU(dt_bias) PF(alpha) PF(beta) PU(k_chunk) PU(s_bias)       \
  PU(dt_c) PU(k_base) PU(accumulate)

// gemm_naive_reference.comp (porta-bench's reference only): contiguous f32 C [M, N] = A B.
#define PORTA_GEMM_NAIVE_PUSH(PU, PF, PV) PU(M) PU(N) PU(K)

#if !defined(__cplusplus)
// GLSL: layout(push_constant) uniform PC { PORTA_X_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;
#define PORTA_OPS_U(n) uint n;
#define PORTA_OPS_F(n) float n;
#define PORTA_OPS_V(n) uvec4 n;
#endif

#endif
