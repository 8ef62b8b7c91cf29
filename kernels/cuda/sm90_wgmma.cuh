// sm_90a warpgroup MMA primitives shared by the Hopper kernels: smem_u32, wgmma
// fence/commit/wait, setmaxnreg, and wgmma.mma_async m64nNk16 (f16/bf16 in, f32 accumulate)
// for N = 64, 128 and 256 in the SS form (A and B from shared-memory descriptors) and the RS
// form (A from registers). The SW128 descriptors themselves are in sm90_desc.h (host-callable).
// Included only where PORTA_CUDA_NVIDIA_PATHS is defined; the instructions themselves
// exist only in sm_90a code (__CUDA_ARCH_FEAT_SM90_ALL), elsewhere the bodies are empty.
#pragma once

#include <cstdint>

#include "sm90_desc.h"

namespace porta::cuda::sm90 {

/// Shared-memory byte address of a generic pointer into shared memory.
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/// Orders this thread's prior register/shared accesses before the next wgmma (needed before
/// the first wgmma of a batch and whenever the accumulators were touched by other code).
__device__ __forceinline__ void wgmma_fence() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
/// Waits until at most N committed wgmma groups of this warpgroup are still pending.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}

/// Pins register operands of in-flight wgmma (accumulators, RS A fragments) in place: the
/// wait/fence asm above has no register operands, so without this the compiler could move a
/// read or write of those registers across them (CUTLASS's warpgroup_fence_operand). Call it
/// on the registers after each wgmma_wait and before each wgmma_fence that guards them.
template <int N>
__device__ __forceinline__ void wgmma_fence_operands(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ __forceinline__ void wgmma_fence_operands(uint32_t (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}
template <int N, int M>
__device__ __forceinline__ void wgmma_fence_operands(uint32_t (&r)[N][M]) {
#pragma unroll
  for (int i = 0; i < N; ++i) wgmma_fence_operands(r[i]);
}

/// Register budget of the calling warpgroup (all 128 threads execute it): producers give
/// registers back, consumers take them.
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

// Accumulator fragment of wgmma m64nNk16 with f32 D (N/2 registers per thread): thread t
// (warp w = t/32 of the warpgroup, lane l) holds c[4i + e] = D[16w + l/4 + 8*(e/2)]
// [8i + 2*(l%4) + (e%2)], i in [0, N/8).
#define PORTA_WGMMA_C8(i)                                                                         \
  "+f"(c[i + 0]), "+f"(c[i + 1]), "+f"(c[i + 2]), "+f"(c[i + 3]), "+f"(c[i + 4]), "+f"(c[i + 5]), \
      "+f"(c[i + 6]), "+f"(c[i + 7])
#define PORTA_WGMMA_D64                                                                                    \
  "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27," \
  "%28,%29,%30,%31"
#define PORTA_WGMMA_D128                                                                      \
  PORTA_WGMMA_D64                                                                             \
  ",%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53," \
  "%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
#define PORTA_WGMMA_D256                                                                        \
  PORTA_WGMMA_D128                                                                              \
  ","                                                                                           \
  "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,"    \
  "%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106," \
  "%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,"  \
  "%125,%126,%127"
#define PORTA_WGMMA_OUT64 PORTA_WGMMA_C8(0), PORTA_WGMMA_C8(8), PORTA_WGMMA_C8(16), PORTA_WGMMA_C8(24)
#define PORTA_WGMMA_OUT128 \
  PORTA_WGMMA_OUT64, PORTA_WGMMA_C8(32), PORTA_WGMMA_C8(40), PORTA_WGMMA_C8(48), PORTA_WGMMA_C8(56)
#define PORTA_WGMMA_OUT256                                                                            \
  PORTA_WGMMA_OUT128, PORTA_WGMMA_C8(64), PORTA_WGMMA_C8(72), PORTA_WGMMA_C8(80), PORTA_WGMMA_C8(88), \
      PORTA_WGMMA_C8(96), PORTA_WGMMA_C8(104), PORTA_WGMMA_C8(112), PORTA_WGMMA_C8(120)
// SS: D += A * B with A and B from shared-memory descriptors; immediates: scale-d = 1
// (accumulate), scale-a = scale-b = 1, transpose-a = 0 (A K-major), transpose-b = TRANS
// (1: B MN-major).
#define PORTA_WGMMA_SS(N, TY, TRANS)                                                                         \
  asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" PORTA_WGMMA_D##N             \
               "}, "                                                                                         \
               "%" PORTA_WGMMA_SS0_##N ", %" PORTA_WGMMA_SS1_##N ", 1, 1, 1, 0, %" PORTA_WGMMA_SS2_##N ";\n" \
               : PORTA_WGMMA_OUT##N                                                                          \
               : "l"(da), "l"(db), "n"(TRANS))
#define PORTA_WGMMA_SS0_64 "32"
#define PORTA_WGMMA_SS1_64 "33"
#define PORTA_WGMMA_SS2_64 "34"
#define PORTA_WGMMA_SS0_128 "64"
#define PORTA_WGMMA_SS1_128 "65"
#define PORTA_WGMMA_SS2_128 "66"
#define PORTA_WGMMA_SS0_256 "128"
#define PORTA_WGMMA_SS1_256 "129"
#define PORTA_WGMMA_SS2_256 "130"
// RS: D += A * B with A from registers (4 x b32: the m16n8k16-style A fragment of this warp's
// 16 rows) and B from a descriptor; immediates: scale-d = 1, scale-a = scale-b = 1,
// transpose-b = TRANS (there is no transpose-a: A in registers is K-major).
#define PORTA_WGMMA_RS(N, TY, TRANS)                                                                       \
  asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" PORTA_WGMMA_D##N           \
               "}, {" PORTA_WGMMA_RS_A_##N "}, %" PORTA_WGMMA_RS_B_##N ", 1, 1, 1, %" PORTA_WGMMA_RS_T_##N \
               ";\n"                                                                                       \
               : PORTA_WGMMA_OUT##N                                                                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "n"(TRANS))
#define PORTA_WGMMA_RS_A_64 "%32,%33,%34,%35"
#define PORTA_WGMMA_RS_B_64 "36"
#define PORTA_WGMMA_RS_T_64 "37"
#define PORTA_WGMMA_RS_A_128 "%64,%65,%66,%67"
#define PORTA_WGMMA_RS_B_128 "68"
#define PORTA_WGMMA_RS_T_128 "69"
#define PORTA_WGMMA_RS_A_256 "%128,%129,%130,%131"
#define PORTA_WGMMA_RS_B_256 "132"
#define PORTA_WGMMA_RS_T_256 "133"

/// c (N/2 f32 per thread) += A (64x16, K-major, descriptor da) * B (16xN, descriptor db;
/// K-major unless kTransB) for one warpgroup. Asynchronous: fence before, commit and wait
/// after (see wgmma_fence / wgmma_commit / wgmma_wait).
template <int N, bool kBF16, bool kTransB>
__device__ __forceinline__ void wgmma_m64k16(float* c, uint64_t da, uint64_t db) {
  static_assert(N == 64 || N == 128 || N == 256, "wgmma_m64k16: N is 64, 128 or 256");
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kT = kTransB ? 1 : 0;
  if constexpr (N == 64) {
    if constexpr (kBF16)
      PORTA_WGMMA_SS(64, "bf16", kT);
    else
      PORTA_WGMMA_SS(64, "f16", kT);
  } else if constexpr (N == 128) {
    if constexpr (kBF16)
      PORTA_WGMMA_SS(128, "bf16", kT);
    else
      PORTA_WGMMA_SS(128, "f16", kT);
  } else {
    if constexpr (kBF16)
      PORTA_WGMMA_SS(256, "bf16", kT);
    else
      PORTA_WGMMA_SS(256, "f16", kT);
  }
#endif
}

/// c (N/2 f32 per thread) += A (64x16 from registers: a[4] per thread, the A fragment of
/// this warp's 16 rows) * B (16xN, descriptor db; K-major unless kTransB) for one warpgroup.
/// Asynchronous like wgmma_m64k16.
template <int N, bool kBF16, bool kTransB>
__device__ __forceinline__ void wgmma_m64k16_rs(float* c, const uint32_t (&a)[4], uint64_t db) {
  static_assert(N == 64 || N == 128 || N == 256, "wgmma_m64k16_rs: N is 64, 128 or 256");
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kT = kTransB ? 1 : 0;
  if constexpr (N == 64) {
    if constexpr (kBF16)
      PORTA_WGMMA_RS(64, "bf16", kT);
    else
      PORTA_WGMMA_RS(64, "f16", kT);
  } else if constexpr (N == 128) {
    if constexpr (kBF16)
      PORTA_WGMMA_RS(128, "bf16", kT);
    else
      PORTA_WGMMA_RS(128, "f16", kT);
  } else {
    if constexpr (kBF16)
      PORTA_WGMMA_RS(256, "bf16", kT);
    else
      PORTA_WGMMA_RS(256, "f16", kT);
  }
#endif
}

#undef PORTA_WGMMA_C8
#undef PORTA_WGMMA_D64
#undef PORTA_WGMMA_D128
#undef PORTA_WGMMA_D256
#undef PORTA_WGMMA_OUT64
#undef PORTA_WGMMA_OUT128
#undef PORTA_WGMMA_OUT256
#undef PORTA_WGMMA_SS
#undef PORTA_WGMMA_SS0_64
#undef PORTA_WGMMA_SS1_64
#undef PORTA_WGMMA_SS2_64
#undef PORTA_WGMMA_SS0_128
#undef PORTA_WGMMA_SS1_128
#undef PORTA_WGMMA_SS2_128
#undef PORTA_WGMMA_SS0_256
#undef PORTA_WGMMA_SS1_256
#undef PORTA_WGMMA_SS2_256
#undef PORTA_WGMMA_RS
#undef PORTA_WGMMA_RS_A_64
#undef PORTA_WGMMA_RS_B_64
#undef PORTA_WGMMA_RS_T_64
#undef PORTA_WGMMA_RS_A_128
#undef PORTA_WGMMA_RS_B_128
#undef PORTA_WGMMA_RS_T_128
#undef PORTA_WGMMA_RS_A_256
#undef PORTA_WGMMA_RS_B_256
#undef PORTA_WGMMA_RS_T_256

}  // namespace porta::cuda::sm90
