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

/// One thread initialises; then mbar_fence_init() and a block barrier before anyone uses it.
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count) : "memory");
#endif
}

/// Makes the initialisations visible to the async proxy (TMA's complete_tx) as well.
__device__ __forceinline__ void mbar_fence_init() {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

/// One arrival (release semantics: this thread's prior shared-memory reads are done).
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("mbarrier.arrive.release.cta.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
#endif
}

/// One arrival that also expects `bytes` more transaction bytes (the TMA loads that will
/// signal this barrier) before the phase can complete.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile("mbarrier.arrive.expect_tx.release.cta.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)),
               "r"(bytes)
               : "memory");
#endif
}

/// Spins until the phase with this parity has completed (acquire: the data the phase
/// guarded, e.g. a TMA tile, is visible afterwards).
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
#if defined(PORTA_SM90_MBARRIER)
  asm volatile(
      "{\n"
      ".reg .pred ready;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 ready, [%0], %1;\n"
      "@!ready bra WAIT;\n"
      "}\n" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
#endif
}

}  // namespace porta::cuda::sm90
