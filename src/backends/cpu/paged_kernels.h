// Block kernels of the cpu paged attention that read K/V in place without prefetching
// ahead along the row stride (a paged cache is not contiguous past a block: the caller
// prefetches the next block named by the table instead). attention_blocks_avx512.cpp.
// Declarations only: this header is included by files built with different ISA flags.
#pragma once

#include <cstdint>

namespace porta::cpu {

/// How K/V elements are stored: float types, int8 codes (scaled per row by the caller) or
/// fp8 e4m3fn codes (read as value * 2^-8; the caller folds 256 and the layer scale in).
enum class KvElem : uint8_t { f32, f16, bf16, i8, fp8 };

/// n K or V rows from p (at the stride the kernel is given); while a row is read, the bytes at
/// row + pf are prefetched (pf = 0: none).
struct KvRows {
  const void* p;
  int64_t n, pf;
};

#if defined(PORTA_CPU_X86)
namespace avx512 {
/// s[r*ld + j] = q_r . k_j over the keys of the spans one after another (rows of ks elements);
/// D % 16 == 0. A span's pf names rows read a little later (the next block the table names),
/// prefetched spread through the math, where a burst of a whole block's prefetches stalls issue.
void scores_paged(KvElem e, const float* q, int64_t R, int64_t D, const KvRows* spans, int nspans, int64_t ks,
                  int64_t ld, float* s);
/// acc_r += sum_j p[r*ld + j] v_j over the keys of the spans (rows of vs elements); D % 16 == 0.
void accumulate_paged(KvElem e, const float* p, int64_t R, int64_t ld, const KvRows* spans, int nspans,
                      int64_t vs, int64_t D, float* acc);

/// True when the host has AVX-512 VNNI, for the int8 kernels below (paged_kernels_avx512.cpp).
bool has_vnni();
/// int8 keys: s[r*ld + j] = qscale[r] * kscale[j] * (q16_r . k_j), the dot products summed
/// exactly in int32 (q16: rows of D int16, q rounded against its row max). D % 32 == 0; the
/// spans hold at most 64 keys.
void scores_i8(const int16_t* q16, const float* qscale, int64_t R, int64_t D, const KvRows* spans, int nspans,
               int64_t ks, const float* kscale, int64_t ld, float* s);
/// int8 values: acc_r += sum_j p[r*ld + j] * vscale[j] * v_j, the weights of a row rounded to
/// int16 against their max and the products summed exactly in int32. p * vscale finite.
/// D % 32 == 0; at most 64 keys.
void accumulate_i8(const float* p, const float* vscale, int64_t R, int64_t ld, const KvRows* spans,
                   int nspans, int64_t vs, int64_t D, float* acc);
/// The int8 scales of 8 contiguous kv heads for n <= 64 keys, by head: out[h * ld + j] =
/// key[j][h]. Returns a bit per head set when its n scales are all finite.
unsigned scales_by_head8(const float* const* key, int64_t n, float* out, int64_t ld);
/// q16 = q rounded to int16 against max|q| (half away from zero), *scale = max|q| / 32767;
/// false (nothing written) when q holds a NaN or an infinity. D % 16 == 0.
bool quantize_q16(const float* q, int64_t D, int16_t* q16, float* scale);
/// One online-softmax step of four query rows (q16: 4 rows of D, as scores_i8 takes them)
/// over the n <= 64 int8 keys of the spans, fused: the scores of scores_i8, -inf outside
/// [below[r], visible[r]), the max / sum / rescale of online_softmax on m, l and acc (4 rows
/// of D), and the values of accumulate_i8 (each row's weights p * vscale rounded to int16
/// against their max), without a round trip of scores and weights through memory between
/// kernels. kspans and vspans name the same keys; D % 32 == 0; vscale finite.
void step_i8(const int16_t* q16, const float* qscale, int64_t D, const KvRows* kspans, const KvRows* vspans,
             int nspans, int64_t ks, int64_t vs, const float* kscale, const float* vscale,
             const int64_t* below, const int64_t* visible, float* m, float* l, float* acc);
}  // namespace avx512
#endif

}  // namespace porta::cpu
