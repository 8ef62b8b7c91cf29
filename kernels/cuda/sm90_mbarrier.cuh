// sm_90 shared-memory mbarriers (PTX ISA "mbarrier"): the handshake of the Hopper
// producer/consumer pipelines. A barrier completes its current phase when `count`
// arrivals have happened and (if armed with expect_tx) the expected number of bytes of
// asynchronous copies (TMA) has landed; waiters name the phase by its parity (0, 1, 0, ...).
// Waiting on parity p returns as soon as the most recent phase with parity p has completed,
// so on a fresh barrier (phase 0 in progress) a wait on parity 1 returns at once: producers
// start their "slot is empty" waits with parity 1.
// Included only where PORTA_CUDA_NVIDIA_PATHS is defined; the bodies exist only for sm_90+.
#pragma once

#include <cstdint>

#include "sm90_wgmma.cuh"  // smem_u32

namespace porta::cuda::sm90 {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define PORTA_SM90_MBARRIER 1
#endif

// Each operation takes the barrier as a shared-memory byte address (uint32_t, what kernels
// that carve shared memory by offsets hold) or as a pointer into shared memory.

/// One thread initialises; then mbar_fence_init() and a block barrier before anyone uses it.
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) { mbar_init(smem_u32(bar), count); }

/// Makes the initialisations visible to the async proxy (TMA's complete_tx) as well.
__device__ __forceinline__ void mbar_fence_init() {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

/// One arrival (release semantics: this thread's prior shared-memory reads are done).
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("mbarrier.arrive.release.cta.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) { mbar_arrive(smem_u32(bar)); }

/// One arrival that also expects `bytes` more transaction bytes (the TMA loads that will
/// signal this barrier) before the phase can complete.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("mbarrier.arrive.expect_tx.release.cta.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  mbar_arrive_expect_tx(smem_u32(bar), bytes);
}

/// Spins until the phase with this parity has completed (acquire: the data the phase
/// guarded, e.g. a TMA tile, is visible afterwards).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile(
      "{\n"
      ".reg .pred ready;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 ready, [%0], %1;\n"
      "@!ready bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
#endif
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  mbar_wait(smem_u32(bar), parity);
}

/// One arrival on `bar` once every cp.async this thread issued so far has landed. .noinc: the
/// arrival counts against the barrier's expected count (the issuing threads are counted in
/// mbar_init). sm_90a only (__CUDA_ARCH_FEAT_SM90_ALL).
__device__ __forceinline__ void cp_async_arrive_noinc(uint32_t bar) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
#endif
}

}  // namespace porta::cuda::sm90
