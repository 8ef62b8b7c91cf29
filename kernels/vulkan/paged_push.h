// Push constants of the serving shaders (paged_*.comp), declared once: paged_common.glsl
// expands each list into a GLSL block and src/backends/vulkan/paged.cpp into a C++ struct,
// so the layouts cannot drift apart (4-byte fields: std430 and C++ agree; <= 32 fields, the
// 128 bytes every device has). U: uint32, F: float. off_*: byte offsets; s*_b/_s/_h: element
// strides of a cache (or scale) tensor's block, slot and head dims. q, out, lse, tables,
// cu_seqlens, lens, slots, mapping and the new K/V rows arrive contiguous (the backend
// declines strided ones, so core stages them).
#ifndef PORTA_PAGED_PUSH_H
#define PORTA_PAGED_PUSH_H
// paged_attention.comp (and paged_decode_grouped.comp). heads: Hq | Hkv << 16. flags: 1 causal,
// 2 (paged_decode_grouped, a mixed batch's decode steps) only sequences of exactly one query.
// row0: first (b, i, h) row (flattened (b * max_q + i) * Hq + h) of this dispatch; chunk: keys
// per split.
#define PORTA_PAGED_ATTN_PUSH(U, F)                                                   \
  U(T) U(heads) U(B) U(max_q) U(max_k) U(nb) U(max_blocks) U(window) U(flags)         \
  F(scale) U(chunk) U(row0)                                                           \
  U(off_q) U(off_k) U(off_v) U(off_ks) U(off_vs) U(off_tab) U(off_cu) U(off_lens)     \
  U(sk_b) U(sk_s) U(sk_h) U(sv_b) U(sv_s) U(sv_h)                                     \
  U(sks_b) U(sks_s) U(sks_h) U(svs_b) U(svs_s) U(svs_h)
// paged_prefill.comp. wflags: window << 10 | block size code (16 << code) << 8 | cache format
// << 6 | cache dtype << 4 | q dtype << 2 | 2 (first pass) | 1 (causal); k_begin: the
// first key of this pass (a pass walks at most REACH keys, llvmpipe's loop budget); min_q:
// sequences with fewer queries are skipped (2 in a mixed batch: the decode kernel takes them).
#define PORTA_PAGED_PREFILL_PUSH(U, F)                                                        \
  U(T) U(heads) U(B) U(max_q) U(max_k) U(nb) U(max_blocks) U(wflags) F(scale) U(k_begin) U(min_q) \
  U(off_q) U(off_k) U(off_v) U(off_ks) U(off_vs) U(off_tab) U(off_cu) U(off_lens)     \
  U(sk_b) U(sk_s) U(sk_h) U(sv_b) U(sv_s) U(sv_h)                                     \
  U(sks_b) U(sks_s) U(sks_h) U(svs_b) U(svs_s) U(svs_h)
// paged_reduce.comp (and paged_finalize.comp: splits unused). flags: 1 write the LSE, 2 a mixed
// batch split between the kernels: paged_reduce merges only the rows of sequences with exactly
// one query, paged_finalize only those of the others. out_mul: the fp8 cache's v scale (else 1).
#define PORTA_PAGED_REDUCE_PUSH(U, F) \
  U(T) U(heads) U(B) U(max_q) U(row0) U(splits) U(off_o) U(off_lse) U(off_cu) U(flags) F(out_mul)
// paged_write.comp (kv_cache_write). flags: 1 slots are i64.
#define PORTA_PAGED_WRITE_PUSH(U, F)                                           \
  U(T) U(Hkv) U(D) U(nb) U(bs) U(flags)                                        \
  U(off_k) U(off_v) U(off_slots) U(off_kc) U(off_vc) U(off_ks) U(off_vs)       \
  U(sk_b) U(sk_s) U(sk_h) U(sv_b) U(sv_s) U(sv_h)                              \
  U(sks_b) U(sks_s) U(sks_h) U(svs_b) U(svs_s) U(svs_h) F(k_scale) F(v_scale)
// paged_copy.comp (copy_blocks). flags: 1 mapping is i64, 2 copy the int8 scales.
#define PORTA_PAGED_COPY_PUSH(U, F)                                            \
  U(N) U(nb) U(bs) U(Hkv) U(D) U(flags)                                        \
  U(off_map) U(off_kc) U(off_vc) U(off_ks) U(off_vs)                           \
  U(sk_b) U(sk_s) U(sk_h) U(sv_b) U(sv_s) U(sv_h)                              \
  U(sks_b) U(sks_s) U(sks_h) U(svs_b) U(svs_s) U(svs_h)
#endif
