// A host emulator of CUDA thread blocks, to run porta's kernels (kernels/cuda) without a GPU:
// one std::thread per CUDA thread, CTAs one after another; __syncthreads is a block barrier;
// shuffles, __syncwarp and the emulated ldmatrix / mma.sync (mma_sm80_emu.cuh) exchange through
// a per-warp barrier and fail when the lanes of a warp are at different warp-collective ops
// (divergence) or one has exited; dynamic shared memory starts as NaN bytes; vector-type
// pointer casts check the GPU's alignment (run.sh rewrites them to emu_cast). It checks the
// kernels' logic (indexing, masking, merges, fragment layouts as the PTX ISA states them,
// pipelines' barriers), not timing, occupancy, registers or memory-model subtleties.
// Pre-included (-include) before the kernel sources; run.sh builds and runs the suites.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <vector_functions.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

using std::max;
using std::min;

#define __CUDA_ARCH__ 800
#define PORTA_CUDA_NVIDIA_PATHS 1
#define PORTA_DEVICE_CODE 1
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __align__
#undef __shared__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static

typedef __half pc_half;

namespace emu {
struct Warp {
  explicit Warp(int n) : bar(n) {}
  std::barrier<> bar;
  uint64_t slot[32];
  int site[32];
  bool exited[32] = {};
  const void* ptr[32];
};
struct Cta {
  explicit Cta(int n) : block(n) {}
  std::barrier<> block;
  std::vector<std::unique_ptr<Warp>> warps;
  unsigned char* dyn = nullptr;
};
inline thread_local Cta* cta = nullptr;
inline thread_local int lane = 0, warp = 0;
inline thread_local uint3 tid, bid;
inline dim3 block_dim, grid_dim;
inline int errors = 0;

[[noreturn]] inline void fail(const char* what, int site) {
  std::fprintf(stderr, "EMU ERROR: %s (line %d) block %u,%u,%u thread %u\n", what, site, bid.x, bid.y, bid.z,
               tid.x);
  std::fflush(stderr);
  std::abort();
}

inline Warp& W() { return *cta->warps[warp]; }
// Every lane of the warp arrives with the same site; none has exited.
inline void warp_sync(int site) {
  Warp& w = W();
  w.site[lane] = site;
  w.bar.arrive_and_wait();
  for (int i = 0; i < 32; ++i) {
    if (w.exited[i]) fail("warp-collective op with an exited lane", site);
    if (w.site[i] != site) fail("lanes of a warp at different collective ops (divergence)", site);
  }
  w.bar.arrive_and_wait();
}
template <class T>
T shfl(T v, int src, int site) {
  static_assert(sizeof(T) <= 8);
  Warp& w = W();
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  w.slot[lane] = b;
  w.site[lane] = site;
  w.bar.arrive_and_wait();
  for (int i = 0; i < 32; ++i) {
    if (w.exited[i]) fail("shuffle with an exited lane", site);
    if (w.site[i] != site) fail("lanes of a warp at different shuffles (divergence)", site);
  }
  const uint64_t r = w.slot[src & 31];
  w.bar.arrive_and_wait();
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}
// Every lane publishes p; returns all 32 (for ldmatrix / mma emulation).
inline void gather(const void* p, const void** out, int site) {
  Warp& w = W();
  w.ptr[lane] = p;
  w.site[lane] = site;
  w.bar.arrive_and_wait();
  for (int i = 0; i < 32; ++i) {
    if (w.exited[i]) fail("warp-collective op with an exited lane", site);
    if (w.site[i] != site) fail("lanes at different warp-collective ops", site);
    out[i] = w.ptr[i];
  }
}
inline void gather_done() { W().bar.arrive_and_wait(); }

// Runs kernel() for every thread of every block (blocks one after another).
inline void launch(dim3 grid, dim3 block, size_t dyn_bytes, const std::function<void()>& kernel) {
  grid_dim = grid, block_dim = block;
  const int n = int(block.x * block.y * block.z);
  std::vector<unsigned char> dyn(dyn_bytes + 2048);
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        Cta c(n);
        for (int w = 0; w < (n + 31) / 32; ++w)
          c.warps.push_back(std::make_unique<Warp>(std::min(32, n - 32 * w)));
        c.dyn = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(dyn.data()) + 1023) &
                                                 ~uintptr_t(1023));
        std::memset(dyn.data(), 0xff, dyn.size());  // NaN in f32 and f16: uninitialised reads show
        std::vector<std::thread> th;
        for (int t = 0; t < n; ++t)
          th.emplace_back([&, t] {
            cta = &c;
            tid = make_uint3(unsigned(t) % block.x, unsigned(t) / block.x % block.y,
                             unsigned(t) / (block.x * block.y));
            bid = make_uint3(x, y, z);
            lane = t % 32, warp = t / 32;
            kernel();
            c.warps[warp]->exited[lane] = true;
            c.warps[warp]->bar.arrive_and_drop();
            c.block.arrive_and_drop();
          });
        for (auto& t : th) t.join();
      }
}
}  // namespace emu

#define threadIdx (::emu::tid)
#define blockIdx (::emu::bid)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)
#define __syncthreads() (::emu::cta->block.arrive_and_wait())
#define pc_syncthreads() __syncthreads()
#define __syncwarp(...) (::emu::warp_sync(__LINE__))
#define pc_shfl_xor(v, m) (::emu::shfl((v), ::emu::lane ^ (m), __LINE__))
#define pc_shfl(v, l) (::emu::shfl((v), (l), __LINE__))
#define __shfl_xor_sync(mask, v, m, ...) (::emu::shfl((v), ::emu::lane ^ (m), __LINE__))
#define __shfl_sync(mask, v, l, ...) (::emu::shfl((v), (l), __LINE__))
#define pc_expf(x) expf(x)
#define __ldg(p) (*(p))
inline float __uint_as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t __float_as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
using std::isinf;
using std::isnan;
inline float __int2float_rn(int x) { return float(x); }  // the host rounds to nearest even
inline float __double2float_rz(double v) {               // toward zero
  float f = float(v);
  if (std::fabs(double(f)) > std::fabs(v)) f = std::nextafter(f, 0.0f);
  return f;
}
inline void sincosf(float x, float* s, float* c) { *s = std::sin(x), *c = std::cos(x); }
inline float __int_as_float(int32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
template <class F>
inline cudaError_t emu_set_smem(F, int) {
  return cudaSuccess;
}
#include <type_traits>
// reinterpret_cast for pointers of the kernels' vector types, with the alignment the GPU needs.
template <class P, class Q>
inline P emu_cast(Q q) {
  using T = std::remove_cv_t<std::remove_pointer_t<P>>;
  if (reinterpret_cast<uintptr_t>(q) % alignof(T) != 0) {
    std::fprintf(stderr, "EMU ERROR: misaligned %zu-byte access at %p (block %u thread %u)\n", alignof(T),
                 (const void*)q, ::emu::bid.x, ::emu::tid.x);
    std::abort();
  }
  return reinterpret_cast<P>(q);
}

namespace emu {
/// A launch configuration: `k<<<grid, block, smem, stream>>>(args)` becomes
/// `::emu::run(::emu::Cfg(grid, block, smem, stream), k, args)` (run.sh), so the real launchers run.
struct Cfg {
  Cfg(dim3 g, dim3 b, size_t s = 0, const void* = nullptr) : grid(g), block(b), smem(s) {}
  dim3 grid, block;
  size_t smem;
};
template <class F, class... A>
void run(const Cfg& c, F f, const A&... a) {
  launch(c.grid, c.block, c.smem, [&] { f(a...); });
}
}  // namespace emu
