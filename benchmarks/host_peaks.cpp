#include "host_peaks.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define PORTA_BENCH_X86 1
#endif

namespace porta_bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs body(tid) on `threads` std::threads started together; returns the wall time.
template <class Body>
double run_threads(int threads, Body body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return seconds_since(t0);
}

#if defined(PORTA_BENCH_X86)
// 12 independent 8-wide FMA chains: Zen 3 / Skylake need latency(4) x ports(2) = 8
// chains in flight to saturate the FMA units; 12 leaves slack. Returns FLOPs done.
__attribute__((target("avx2,fma"))) double fma_chains_avx2(int64_t iters, float seed, float* sink) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(seed + static_cast<float>(i));
  const __m256 mul = _mm256_set1_ps(0.999999f);
  const __m256 add = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink = out[0];
  return static_cast<double>(iters) * 12 * 8 * 2;
}

// The same with 16-wide vectors: on CPUs with full-width AVX-512 units (e.g. Zen 5) this
// doubles the peak, and porta's GEMM uses AVX-512 there, so the peak must too.
__attribute__((target("avx512f"))) double fma_chains_avx512(int64_t iters, float seed, float* sink) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(seed + static_cast<float>(i));
  const __m512 mul = _mm512_set1_ps(0.999999f);
  const __m512 add = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  *sink = out[0];
  return static_cast<double>(iters) * 12 * 16 * 2;
}
#endif

}  // namespace

double measure_host_fma_gflops(int threads, double seconds) {
#if defined(PORTA_BENCH_X86)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  auto* fma_chains = __builtin_cpu_supports("avx512f") ? &fma_chains_avx512 : &fma_chains_avx2;
  threads = std::max(threads, 1);
  std::vector<float> sink(static_cast<size_t>(threads) * 16);
  // Calibrate the iteration count on one thread so the timed run lasts about `seconds`.
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = Clock::now();
    fma_chains(iters, 1.0f, &sink[0]);
    const double dt = seconds_since(t0);
    if (dt > 0.02) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / dt);
      break;
    }
    iters *= 4;
  }
  double best = 0;
  // The best of 5: the first pass lets the clocks ramp up, and on a shared VM one pass can
  // lose a core to the hypervisor (a 2-core host once measured half its peak, 174 instead of
  // 333 GFLOP/s, which made GEMM report 136 % of "peak").
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<double> flops(static_cast<size_t>(threads));
    const double wall = run_threads(threads, [&](int t) {
      flops[static_cast<size_t>(t)] =
          fma_chains(iters, 1.0f + static_cast<float>(t), &sink[static_cast<size_t>(t) * 16]);
    });
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / wall / 1e9);
  }
  return best;
#else
  (void)threads;
  (void)seconds;
  return 0;
#endif
}

double measure_host_copy_gbps(int threads, double seconds) {
  threads = std::max(threads, 1);
  // 256 MiB each way: far beyond any L3, so this is DRAM bandwidth.
  const size_t bytes = size_t{256} << 20;
  auto free_fn = [](char* p) { std::free(p); };
  std::unique_ptr<char, decltype(free_fn)> src(static_cast<char*>(std::aligned_alloc(64, bytes)), free_fn);
  std::unique_ptr<char, decltype(free_fn)> dst(static_cast<char*>(std::aligned_alloc(64, bytes)), free_fn);
  if (!src || !dst) return 0;
  const size_t chunk = (bytes / static_cast<size_t>(threads)) & ~size_t{63};
  // First touch by the thread that will copy the chunk (NUMA placement, page faults).
  run_threads(threads, [&](int t) {
    std::memset(src.get() + chunk * static_cast<size_t>(t), 1, chunk);
    std::memset(dst.get() + chunk * static_cast<size_t>(t), 0, chunk);
  });
  double best = 0;
  const auto t0 = Clock::now();
  for (int pass = 0; pass < 3 || (seconds_since(t0) < seconds && pass < 50); ++pass) {
    const double wall = run_threads(threads, [&](int t) {
      std::memcpy(dst.get() + chunk * static_cast<size_t>(t), src.get() + chunk * static_cast<size_t>(t),
                  chunk);
    });
    best = std::max(best, 2.0 * static_cast<double>(chunk) * threads / wall / 1e9);
  }
  return best;
}

}  // namespace porta_bench
