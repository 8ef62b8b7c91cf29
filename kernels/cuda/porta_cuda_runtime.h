// The one alias header of the CUDA backend. Every runtime call (host side) and every
// intrinsic of the portable SIMT path (device side) goes through a pc* name defined here,
// so a CUDA-dialect toolchain (HIP for Hygon DCU, MUSA, IXUCA, MXMACA) builds the same
// sources by defining its own branch below. docs/porting-cuda-dialects.md says what else
// a dialect needs. The sm80/sm90 paths (mma.sync, cp.async, wgmma, TMA) use NVIDIA PTX and
// are compiled only when PORTA_CUDA_NVIDIA_PATHS is set.
//
// Subgroup convention: the portable kernels reduce over groups of kGroup = 32 lanes with
// pc_shfl_xor(v, m) (width 32), so a 64-wide AMD wavefront behaves as two groups of 32.
#pragma once

#if defined(PORTA_DIALECT_HIP)
// ---------------------------------------------------------------- HIP (ROCm) ----
#include <hip/hip_runtime.h>

typedef hipError_t pcError_t;
typedef hipStream_t pcStream_t;
typedef hipEvent_t pcEvent_t;
typedef hipMemPool_t pcMemPool_t;
typedef hipDeviceProp_t pcDeviceProp;
typedef hipDeviceAttribute_t pcDeviceAttr;

#define PORTA_DIALECT_NAME "hip"
#define pcSuccess hipSuccess
#define pcErrorMemoryAllocation hipErrorOutOfMemory
#define pcErrorNoDevice hipErrorNoDevice
#define pcErrorInsufficientDriver hipErrorInsufficientDriver
#define pcErrorInitializationError hipErrorNotInitialized
#define pcErrorIllegalAddress hipErrorIllegalAddress
#define pcErrorLaunchFailure hipErrorLaunchFailure
#define pcErrorLaunchTimeout hipErrorLaunchTimeOut
#define pcErrorECCUncorrectable hipErrorECCNotCorrectable
#define pcErrorHardwareStackError hipErrorLaunchFailure
#define pcErrorIllegalInstruction hipErrorLaunchFailure
#define pcErrorMisalignedAddress hipErrorLaunchFailure
#define pcErrorInvalidPc hipErrorLaunchFailure
#define pcErrorAssert hipErrorAssert
#define pcErrorContextIsDestroyed hipErrorContextIsDestroyed
#define pcErrorNotSupported hipErrorNotSupported
#define pcErrorNoKernelImageForDevice hipErrorNoBinaryForGpu
#define pcErrorInvalidDeviceFunction hipErrorInvalidDeviceFunction
#define pcErrorNotReady hipErrorNotReady
#define pcErrorStubLibrary hipErrorInsufficientDriver
#define pcErrorDevicesUnavailable hipErrorInvalidDevice

#define pcGetErrorName hipGetErrorName
#define pcGetErrorString hipGetErrorString
#define pcGetLastError hipGetLastError
#define pcPeekAtLastError hipPeekAtLastError
#define pcDriverGetVersion hipDriverGetVersion
#define pcRuntimeGetVersion hipRuntimeGetVersion
#define pcGetDeviceCount hipGetDeviceCount
#define pcGetDeviceProperties hipGetDeviceProperties
#define pcDeviceGetAttribute hipDeviceGetAttribute
#define pcSetDevice hipSetDevice
#define pcDeviceSynchronize hipDeviceSynchronize
#define pcMemGetInfo hipMemGetInfo
#define pcMallocAsync hipMallocAsync
#define pcMalloc hipMalloc
#define pcFree hipFree
#define pcFreeAsync hipFreeAsync
#define pcDeviceGetDefaultMemPool hipDeviceGetDefaultMemPool
#define pcMemPoolSetAttribute hipMemPoolSetAttribute
#define pcMemPoolTrimTo hipMemPoolTrimTo
#define pcMemPoolAttrReleaseThreshold hipMemPoolAttrReleaseThreshold
#define pcMemcpyAsync hipMemcpyAsync
#define pcMemcpyHostToDevice hipMemcpyHostToDevice
#define pcMemcpyDeviceToHost hipMemcpyDeviceToHost
#define pcMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define pcMemsetAsync hipMemsetAsync
#define pcStreamCreate hipStreamCreate
#define pcStreamDestroy hipStreamDestroy
#define pcStreamSynchronize hipStreamSynchronize
#define pcStreamWaitEvent hipStreamWaitEvent
#define pcEventCreate hipEventCreate
#define pcEventDestroy hipEventDestroy
#define pcEventRecord hipEventRecord
#define pcEventSynchronize hipEventSynchronize
#define pcEventElapsedTime hipEventElapsedTime
#define pcFuncSetMaxDynamicSharedMemory(fn, bytes) \
  hipFuncSetAttribute(reinterpret_cast<const void*>(fn), hipFuncAttributeMaxDynamicSharedMemorySize, bytes)
// The null stream of HIP synchronises with every blocking stream, like CUDA's legacy stream.
#define pcStreamLegacy (static_cast<hipStream_t>(nullptr))
#define pcDevAttrClockRate hipDeviceAttributeClockRate
#define pcDevAttrMemoryClockRate hipDeviceAttributeMemoryClockRate
#define pcDevAttrGlobalMemoryBusWidth hipDeviceAttributeMemoryBusWidth
#define pcDevAttrMultiProcessorCount hipDeviceAttributeMultiprocessorCount
#define pcDevAttrMaxSharedMemoryPerBlockOptin hipDeviceAttributeSharedMemPerBlockOptin
#define pcDevAttrMemoryPoolsSupported hipDeviceAttributeMemoryPoolsSupported
#define pcDevAttrComputeCapabilityMajor hipDeviceAttributeComputeCapabilityMajor
#define pcDevAttrComputeCapabilityMinor hipDeviceAttributeComputeCapabilityMinor

#if defined(__HIPCC__)
#define PORTA_DEVICE_CODE 1
#define pc_shfl_xor(v, mask) __shfl_xor((v), (mask), 32)
#define pc_shfl(v, lane) __shfl((v), (lane), 32)
#define pc_syncthreads() __syncthreads()
#define pc_expf(x) __expf(x)
#include <hip/hip_fp16.h>
typedef __half pc_half;
#endif

#else
// ---------------------------------------------------------------- CUDA ----
#include <cuda_runtime_api.h>

typedef cudaError_t pcError_t;
typedef cudaStream_t pcStream_t;
typedef cudaEvent_t pcEvent_t;
typedef cudaMemPool_t pcMemPool_t;
typedef cudaDeviceProp pcDeviceProp;
typedef cudaDeviceAttr pcDeviceAttr;

#define PORTA_DIALECT_NAME "cuda"
#define pcSuccess cudaSuccess
#define pcErrorMemoryAllocation cudaErrorMemoryAllocation
#define pcErrorNoDevice cudaErrorNoDevice
#define pcErrorInsufficientDriver cudaErrorInsufficientDriver
#define pcErrorInitializationError cudaErrorInitializationError
#define pcErrorIllegalAddress cudaErrorIllegalAddress
#define pcErrorLaunchFailure cudaErrorLaunchFailure
#define pcErrorLaunchTimeout cudaErrorLaunchTimeout
#define pcErrorECCUncorrectable cudaErrorECCUncorrectable
#define pcErrorHardwareStackError cudaErrorHardwareStackError
#define pcErrorIllegalInstruction cudaErrorIllegalInstruction
#define pcErrorMisalignedAddress cudaErrorMisalignedAddress
#define pcErrorInvalidPc cudaErrorInvalidPc
#define pcErrorAssert cudaErrorAssert
#define pcErrorContextIsDestroyed cudaErrorContextIsDestroyed
#define pcErrorNotSupported cudaErrorNotSupported
#define pcErrorNoKernelImageForDevice cudaErrorNoKernelImageForDevice
#define pcErrorInvalidDeviceFunction cudaErrorInvalidDeviceFunction
#define pcErrorNotReady cudaErrorNotReady
#define pcErrorStubLibrary cudaErrorStubLibrary
#define pcErrorDevicesUnavailable cudaErrorDevicesUnavailable

#define pcGetErrorName cudaGetErrorName
#define pcGetErrorString cudaGetErrorString
#define pcGetLastError cudaGetLastError
#define pcPeekAtLastError cudaPeekAtLastError
#define pcDriverGetVersion cudaDriverGetVersion
#define pcRuntimeGetVersion cudaRuntimeGetVersion
#define pcGetDeviceCount cudaGetDeviceCount
#define pcGetDeviceProperties cudaGetDeviceProperties
#define pcDeviceGetAttribute cudaDeviceGetAttribute
#define pcSetDevice cudaSetDevice
#define pcDeviceSynchronize cudaDeviceSynchronize
#define pcMemGetInfo cudaMemGetInfo
#define pcMallocAsync cudaMallocAsync
#define pcMalloc cudaMalloc
#define pcFree cudaFree
#define pcFreeAsync cudaFreeAsync
#define pcDeviceGetDefaultMemPool cudaDeviceGetDefaultMemPool
#define pcMemPoolSetAttribute cudaMemPoolSetAttribute
#define pcMemPoolTrimTo cudaMemPoolTrimTo
#define pcMemPoolAttrReleaseThreshold cudaMemPoolAttrReleaseThreshold
#define pcMemcpyAsync cudaMemcpyAsync
#define pcMemcpyHostToDevice cudaMemcpyHostToDevice
#define pcMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define pcMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define pcMemsetAsync cudaMemsetAsync
#define pcStreamCreate cudaStreamCreate
#define pcStreamDestroy cudaStreamDestroy
#define pcStreamSynchronize cudaStreamSynchronize
#define pcStreamWaitEvent cudaStreamWaitEvent
#define pcEventCreate cudaEventCreate
#define pcEventDestroy cudaEventDestroy
#define pcEventRecord cudaEventRecord
#define pcEventSynchronize cudaEventSynchronize
#define pcEventElapsedTime cudaEventElapsedTime
#define pcFuncSetMaxDynamicSharedMemory(fn, bytes) \
  cudaFuncSetAttribute((fn), cudaFuncAttributeMaxDynamicSharedMemorySize, bytes)
// Work on the legacy stream waits for, and is waited on by, every blocking stream.
#define pcStreamLegacy cudaStreamLegacy
#define pcDevAttrClockRate cudaDevAttrClockRate
#define pcDevAttrMemoryClockRate cudaDevAttrMemoryClockRate
#define pcDevAttrGlobalMemoryBusWidth cudaDevAttrGlobalMemoryBusWidth
#define pcDevAttrMultiProcessorCount cudaDevAttrMultiProcessorCount
#define pcDevAttrMaxSharedMemoryPerBlockOptin cudaDevAttrMaxSharedMemoryPerBlockOptin
#define pcDevAttrMemoryPoolsSupported cudaDevAttrMemoryPoolsSupported
#define pcDevAttrComputeCapabilityMajor cudaDevAttrComputeCapabilityMajor
#define pcDevAttrComputeCapabilityMinor cudaDevAttrComputeCapabilityMinor

#if defined(__CUDACC__)
#define PORTA_DEVICE_CODE 1
#define PORTA_CUDA_NVIDIA_PATHS 1
#define pc_shfl_xor(v, mask) __shfl_xor_sync(0xffffffffu, (v), (mask), 32)
#define pc_shfl(v, lane) __shfl_sync(0xffffffffu, (v), (lane), 32)
#define pc_syncthreads() __syncthreads()
#define pc_expf(x) __expf(x)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
typedef __half pc_half;
#endif

#endif
