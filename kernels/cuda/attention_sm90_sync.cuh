// sm_90a synchronisation primitives of the FA3-style attention kernel: mbarriers (init,
// arrive, parity wait, cp.async completion arrive), the generic -> async proxy fence, named
// barriers, and warpgroup register reallocation. Included only where PORTA_CUDA_NVIDIA_PATHS is defined;
// the bodies exist only in sm_90a code (__CUDA_ARCH_FEAT_SM90_ALL).
#pragma once

#include <cstdint>

namespace porta::cuda::attn90 {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/// An mbarrier whose phase completes after `count` arrivals.
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}

/// Makes the initialised barriers visible before any thread uses them (with a CTA barrier).
__device__ __forceinline__ void mbar_init_fence() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}

/// Blocks until the phase with parity `parity` has completed. A fresh barrier is in phase 0,
/// so the first wait uses parity 0 and returns once `count` arrivals happened.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_LOOP:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_LOOP;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
#endif
}

/// One arrival on `bar` once every cp.async this thread issued so far has landed. .noinc: the
/// arrival counts against the barrier's expected count (the producer threads are counted).
__device__ __forceinline__ void cp_async_arrive_noinc(uint32_t bar) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
#endif
}

__device__ __forceinline__ void cp_async_wait_all() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

/// cp.async writes shared memory through the generic proxy; wgmma reads it through the async
/// proxy. A consumer that acquired the data (mbarrier wait) fences before its wgmma reads.
__device__ __forceinline__ void fence_proxy_async_smem() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

/// Named barrier `id` (1..15; 0 is __syncthreads) completing once `count` threads arrived:
/// sync waits for completion, arrive only counts. Both take whole warps.
__device__ __forceinline__ void named_bar_sync(int id, int count) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
#endif
}
__device__ __forceinline__ void named_bar_arrive(int id, int count) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
#endif
}

/// Warpgroup-wide register budget change (all 128 threads execute it).
template <int kRegs>
__device__ __forceinline__ void regs_dec() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}
template <int kRegs>
__device__ __forceinline__ void regs_inc() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

}  // namespace porta::cuda::attn90
