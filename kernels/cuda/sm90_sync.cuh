// sm_90a synchronisation primitives other than mbarriers (sm90_mbarrier.cuh): the generic ->
// async proxy fence, named barriers, and cp.async completion. Included only where
// PORTA_CUDA_NVIDIA_PATHS is defined; the bodies exist only in sm_90a code
// (__CUDA_ARCH_FEAT_SM90_ALL).
#pragma once

#include <cstdint>

namespace porta::cuda::sm90 {

/// Waits for every cp.async this thread issued (e.g. before a producer warpgroup exits).
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

}  // namespace porta::cuda::sm90
