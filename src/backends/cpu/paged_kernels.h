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

#if defined(PORTA_CPU_X86)
namespace avx512 {
/// s[r*n + j] = q_r . k_j (rows of ks elements); D % 16 == 0. pf != 0: while row j is read,
/// the bytes at row j + pf are prefetched (the same row of the next block: spread through the
/// math, where a burst of a whole block's prefetches stalls issue).
void scores_paged(KvElem e, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t pf,
                  int64_t n, float* s);
/// acc_r += sum_j p[r*n + j] v_j (rows of vs elements); D % 16 == 0; pf as scores_paged.
void accumulate_paged(KvElem e, const float* p, int64_t R, int64_t n, const void* v, int64_t vs, int64_t pf,
                      int64_t D, float* acc);
}  // namespace avx512
#endif

}  // namespace porta::cpu
