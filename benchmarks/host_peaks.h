// Measured peaks of the host CPU. porta's cpu device reports nominal peaks
// (cores x base clock x FMA width), which understate boost clocks, so the
// benchmarks measure what the cores and memory actually deliver.
#pragma once

namespace porta_bench {

/// Sustained f32 FMA throughput of `threads` threads (one per core), in GFLOP/s.
/// 0 when the host has no vector FMA path this build knows (non-x86).
double measure_host_fma_gflops(int threads, double seconds = 0.2);

/// Copy bandwidth of `threads` threads over buffers far larger than the caches,
/// counting bytes read + written, in GB/s (best of several passes).
double measure_host_copy_gbps(int threads, double seconds = 0.3);

}  // namespace porta_bench
