// The inner loop of the AVX2 int4 digits GEMV (quant_gemv_digits_avx2.cpp) for two weight
// rows, in inline assembly: the instructions of the intrinsics form, but with the register
// use and order fixed. GCC 12 spilled the intrinsics form's constants and sums every window
// at three rows, and, restructured, hoisted every product of a window ahead of its adds
// (a dozen spills, 40 % slower). Measured on Zen 4 (L2-resident, one thread, cycles per row
// and 128 weights, best of alternating runs): this loop alone 10.6-11.0, the whole kernel
// around it 12.8-13.0, the three-row intrinsics kernel 13.5-14.0; folding the digit loads
// into the multiplies (2 loads per cycle) took 13.8.
//
// Registers (AT&T operand order: src2, src1, dst): row 0's digit accumulators ymm0-2, row
// 1's ymm3-5 (16-bit lanes), the unpacked nibbles ymm6 / ymm7 (row 0 low / high) and ymm8 /
// ymm9 (row 1), the shared digit vector ymm10, products ymm11 / ymm12, the running f32 sums
// ymm14 (row 0) and ymm13 (row 1), the nibble mask ymm15.
//
// Per span of 128 elements (64 bytes of codes per row) and digit i, the span's digits lie at
// xd + 128·i: each 64-element block b holds its 32 even-element digits at + 64·b and its
// odd-element ones at + 64·b + 32 (split_digits with digit_block 64).
#pragma once

#if defined(PORTA_CPU_X86)
#include <immintrin.h>

#include <cstdint>

namespace porta::cpu {

/// One run of whole 128-element spans over two rows (the slots of one factors_run, up to 64).
struct DigitWindows {
  const uint8_t* p0;  // row 0's codes at the first span (row 1's at p1)
  const uint8_t* p1;
  const int8_t* xd;  // the first span's digits
  const float* f0;   // row 0's factors at the first span (row 1's at f1): s·u per slot, or for
                     // groups of 32 a vector per 64-element block (4 x s·u of each group)
  const float* f1;
  int64_t spans;  // >= 1
  int64_t ahead;  // bytes past p0 / p1 to prefetch into L2 per span (the next rows)
  float* tot0;    // 8 running f32 sums of row 0 (row 1's at tot1)
  float* tot1;
};

namespace digit_windows_detail {

alignas(32) inline constexpr int16_t kConst[4][16] = {
    {0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f, 0x0f0f,
     0x0f0f, 0x0f0f, 0x0f0f},                                                          // nibble mask
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},                                  // digit 0's weight
    {128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128},  // digit 1's
    {16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384, 16384,
     16384}};  // digit 2's

// One instruction per line (clang-format would join and split the strings).
// clang-format off
// One 64-element block's codes of both rows (off: bytes into the span) into nibbles.
#define PQ_UNPACK(off)                      \
  "vmovdqu " #off "(%[p0]), %%ymm7\n\t"     \
  "vmovdqu " #off "(%[p1]), %%ymm9\n\t"     \
  "vpand %%ymm15, %%ymm7, %%ymm6\n\t"       \
  "vpsrlw $4, %%ymm7, %%ymm7\n\t"           \
  "vpand %%ymm15, %%ymm7, %%ymm7\n\t"       \
  "vpand %%ymm15, %%ymm9, %%ymm8\n\t"       \
  "vpsrlw $4, %%ymm9, %%ymm9\n\t"           \
  "vpand %%ymm15, %%ymm9, %%ymm9\n\t"
// a0 / a1 = the block's products with one digit (even digits at e, odd at o, bytes into xd).
#define PQ_FIRST(e, o, a0, a1)                        \
  "vmovdqu " #e "(%[xd]), %%ymm10\n\t"                \
  "vpmaddubsw %%ymm10, %%ymm6, %%" #a0 "\n\t"         \
  "vpmaddubsw %%ymm10, %%ymm8, %%" #a1 "\n\t"         \
  "vmovdqu " #o "(%[xd]), %%ymm10\n\t"                \
  "vpmaddubsw %%ymm10, %%ymm7, %%ymm11\n\t"           \
  "vpmaddubsw %%ymm10, %%ymm9, %%ymm12\n\t"           \
  "vpaddw %%ymm11, %%" #a0 ", %%" #a0 "\n\t"          \
  "vpaddw %%ymm12, %%" #a1 ", %%" #a1 "\n\t"
// a0 / a1 += the block's products with one digit.
#define PQ_NEXT(e, o, a0, a1)                         \
  "vmovdqu " #e "(%[xd]), %%ymm10\n\t"                \
  "vpmaddubsw %%ymm10, %%ymm6, %%ymm11\n\t"           \
  "vpmaddubsw %%ymm10, %%ymm8, %%ymm12\n\t"           \
  "vpaddw %%ymm11, %%" #a0 ", %%" #a0 "\n\t"          \
  "vpaddw %%ymm12, %%" #a1 ", %%" #a1 "\n\t"          \
  "vmovdqu " #o "(%[xd]), %%ymm10\n\t"                \
  "vpmaddubsw %%ymm10, %%ymm7, %%ymm11\n\t"           \
  "vpmaddubsw %%ymm10, %%ymm9, %%ymm12\n\t"           \
  "vpaddw %%ymm11, %%" #a0 ", %%" #a0 "\n\t"          \
  "vpaddw %%ymm12, %%" #a1 ", %%" #a1 "\n\t"
// a = Σ_i a_i·128^i in f32 (16-bit lanes widened in pairs by vpmaddwd: 2.6e8 < 2^31).
#define PQ_WIDEN2(a, b)                        \
  "vpmaddwd 32(%[k]), %%" #a ", %%" #a "\n\t"  \
  "vpmaddwd 64(%[k]), %%" #b ", %%" #b "\n\t"  \
  "vpaddd %%" #b ", %%" #a ", %%" #a "\n\t"    \
  "vcvtdq2ps %%" #a ", %%" #a "\n\t"
#define PQ_WIDEN3(a, b, c)                     \
  "vpmaddwd 32(%[k]), %%" #a ", %%" #a "\n\t"  \
  "vpmaddwd 64(%[k]), %%" #b ", %%" #b "\n\t"  \
  "vpmaddwd 96(%[k]), %%" #c ", %%" #c "\n\t"  \
  "vpaddd %%" #b ", %%" #a ", %%" #a "\n\t"    \
  "vpaddd %%" #c ", %%" #a ", %%" #a "\n\t"    \
  "vcvtdq2ps %%" #a ", %%" #a "\n\t"
// t += a · (one slot's s·u at off bytes into f, broadcast).
#define PQ_SCALE1(a, f, off, t)                   \
  "vbroadcastss " #off "(%[" #f "]), %%ymm11\n\t" \
  "vfmadd231ps %%ymm11, %%" #a ", %%" #t "\n\t"
// Groups of 32: t += a · (the block's factor vector at off bytes into f: lanes 0-3 hold
// elements 0-31 of the block, 4-7 elements 32-63).
#define PQ_SCALE2(a, f, off, t)                                  \
  "vfmadd231ps " #off "(%[" #f "]), %%" #a ", %%" #t "\n\t"

// Loop head and tail shared by every form: sums in, a span per iteration, sums out.
#define PQ_HEAD                       \
  "vmovdqa (%[k]), %%ymm15\n\t"       \
  "vmovups (%[t0]), %%ymm14\n\t"      \
  "vmovups (%[t1]), %%ymm13\n\t"      \
  "1:\n\t"                            \
  "prefetcht1 (%[p0], %[ahead])\n\t"  \
  "prefetcht1 (%[p1], %[ahead])\n\t"
#define PQ_TAIL(xd_step, f_step)      \
  "add $64, %[p0]\n\t"                \
  "add $64, %[p1]\n\t"                \
  "add $" #xd_step ", %[xd]\n\t"      \
  "add $" #f_step ", %[f0]\n\t"       \
  "add $" #f_step ", %[f1]\n\t"       \
  "dec %[n]\n\t"                      \
  "jnz 1b\n\t"                        \
  "vmovups %%ymm14, (%[t0])\n\t"      \
  "vmovups %%ymm13, (%[t1])\n\t"

// The template must be a bare string literal, so `body` cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PQ_RUN(body)                                                                               \
  const uint8_t* p0 = w.p0;                                                                        \
  const uint8_t* p1 = w.p1;                                                                        \
  const int8_t* xd = w.xd;                                                                         \
  const float* f0 = w.f0;                                                                          \
  const float* f1 = w.f1;                                                                          \
  int64_t n = w.spans;                                                                             \
  __asm__ volatile(body                                                                            \
                   : [p0] "+r"(p0), [p1] "+r"(p1), [xd] "+r"(xd), [f0] "+r"(f0), [f1] "+r"(f1),    \
                     [n] "+r"(n)                                                                   \
                   : [k] "r"(kConst), [ahead] "r"(w.ahead), [t0] "r"(w.tot0), [t1] "r"(w.tot1)     \
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
                     "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory")
// NOLINTEND(bugprone-macro-parentheses)

// clang-format on
}  // namespace digit_windows_detail

/// Whole spans of two rows with D digits (2 or 3) and slots of GS elements: 0 (a slot is a
/// span: groups of multiples of 128, or one per row), 64 or 32.
template <int D, int GS>
void digit_windows(const DigitWindows& w);

// clang-format off
template <>
inline void digit_windows<3, 0>(const DigitWindows& w) {
  using namespace digit_windows_detail;
  PQ_RUN(PQ_HEAD
         PQ_UNPACK(0)
         PQ_FIRST(0, 32, ymm0, ymm3) PQ_FIRST(128, 160, ymm1, ymm4) PQ_FIRST(256, 288, ymm2, ymm5)
         PQ_UNPACK(32)
         PQ_NEXT(64, 96, ymm0, ymm3) PQ_NEXT(192, 224, ymm1, ymm4) PQ_NEXT(320, 352, ymm2, ymm5)
         PQ_WIDEN3(ymm0, ymm1, ymm2) PQ_SCALE1(ymm0, f0, 0, ymm14)
         PQ_WIDEN3(ymm3, ymm4, ymm5) PQ_SCALE1(ymm3, f1, 0, ymm13)
         PQ_TAIL(384, 4));
}

template <>
inline void digit_windows<2, 0>(const DigitWindows& w) {
  using namespace digit_windows_detail;
  PQ_RUN(PQ_HEAD
         PQ_UNPACK(0)
         PQ_FIRST(0, 32, ymm0, ymm3) PQ_FIRST(128, 160, ymm1, ymm4)
         PQ_UNPACK(32)
         PQ_NEXT(64, 96, ymm0, ymm3) PQ_NEXT(192, 224, ymm1, ymm4)
         PQ_WIDEN2(ymm0, ymm1) PQ_SCALE1(ymm0, f0, 0, ymm14)
         PQ_WIDEN2(ymm3, ymm4) PQ_SCALE1(ymm3, f1, 0, ymm13)
         PQ_TAIL(256, 4));
}

// Groups of 64 and 32: an epilogue per 64-element block. S: the scale step (PQ_SCALE1 for a
// slot per block, PQ_SCALE2 for two), o0 / o1: the blocks' factor offsets in bytes.
#define PQ_BLOCKWISE3(S, o0, o1)                                                              \
  PQ_UNPACK(0)                                                                                \
  PQ_FIRST(0, 32, ymm0, ymm3) PQ_FIRST(128, 160, ymm1, ymm4) PQ_FIRST(256, 288, ymm2, ymm5)   \
  PQ_WIDEN3(ymm0, ymm1, ymm2) S(ymm0, f0, o0, ymm14)                                          \
  PQ_WIDEN3(ymm3, ymm4, ymm5) S(ymm3, f1, o0, ymm13)                                          \
  PQ_UNPACK(32)                                                                               \
  PQ_FIRST(64, 96, ymm0, ymm3) PQ_FIRST(192, 224, ymm1, ymm4) PQ_FIRST(320, 352, ymm2, ymm5)  \
  PQ_WIDEN3(ymm0, ymm1, ymm2) S(ymm0, f0, o1, ymm14)                                          \
  PQ_WIDEN3(ymm3, ymm4, ymm5) S(ymm3, f1, o1, ymm13)
#define PQ_BLOCKWISE2(S, o0, o1)                                                              \
  PQ_UNPACK(0)                                                                                \
  PQ_FIRST(0, 32, ymm0, ymm3) PQ_FIRST(128, 160, ymm1, ymm4)                                  \
  PQ_WIDEN2(ymm0, ymm1) S(ymm0, f0, o0, ymm14)                                                \
  PQ_WIDEN2(ymm3, ymm4) S(ymm3, f1, o0, ymm13)                                                \
  PQ_UNPACK(32)                                                                               \
  PQ_FIRST(64, 96, ymm0, ymm3) PQ_FIRST(192, 224, ymm1, ymm4)                                 \
  PQ_WIDEN2(ymm0, ymm1) S(ymm0, f0, o1, ymm14)                                                \
  PQ_WIDEN2(ymm3, ymm4) S(ymm3, f1, o1, ymm13)

template <>
inline void digit_windows<3, 64>(const DigitWindows& w) {
  using namespace digit_windows_detail;
  PQ_RUN(PQ_HEAD PQ_BLOCKWISE3(PQ_SCALE1, 0, 4) PQ_TAIL(384, 8));
}

template <>
inline void digit_windows<2, 64>(const DigitWindows& w) {
  using namespace digit_windows_detail;
  PQ_RUN(PQ_HEAD PQ_BLOCKWISE2(PQ_SCALE1, 0, 4) PQ_TAIL(256, 8));
}

template <>
inline void digit_windows<3, 32>(const DigitWindows& w) {
  using namespace digit_windows_detail;
  PQ_RUN(PQ_HEAD PQ_BLOCKWISE3(PQ_SCALE2, 0, 32) PQ_TAIL(384, 64));
}

template <>
inline void digit_windows<2, 32>(const DigitWindows& w) {
  using namespace digit_windows_detail;
  PQ_RUN(PQ_HEAD PQ_BLOCKWISE2(PQ_SCALE2, 0, 32) PQ_TAIL(256, 64));
}
// clang-format on

#undef PQ_UNPACK
#undef PQ_FIRST
#undef PQ_NEXT
#undef PQ_WIDEN2
#undef PQ_WIDEN3
#undef PQ_SCALE1
#undef PQ_SCALE2
#undef PQ_HEAD
#undef PQ_TAIL
#undef PQ_RUN
#undef PQ_BLOCKWISE3
#undef PQ_BLOCKWISE2

}  // namespace porta::cpu
#endif
