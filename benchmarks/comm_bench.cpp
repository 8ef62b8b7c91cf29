// porta-comm-bench: all_reduce bus bandwidth of porta::Communicator against the MPI
// library's own MPI_Allreduce on host buffers of the same size, in the same run.
//
//   mpirun -n 2 porta-comm-bench [--min-bytes N] [--max-bytes N] [--dtype f32|f16|bf16]
//                                [--rounds N] [--csv FILE]
//
// Device: PORTA_DEVICE (each rank). Bus bandwidth as nccl-tests defines it: algbw = bytes /
// time, busbw = algbw × 2(n-1)/n for all-reduce. Each size alternates porta and the MPI
// baseline for --rounds rounds and keeps each one's best round (the host is shared);
// a round's time is the slowest rank's mean over its iterations.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "porta/comm.h"
#include "porta/porta.h"

namespace {

struct Args {
  int64_t min_bytes = 4 << 10, max_bytes = int64_t{256} << 20;
  porta::DType dtype = porta::DType::f32;
  int rounds = 3;
  std::string csv;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "porta-comm-bench: %s\nusage: mpirun -n N porta-comm-bench [--min-bytes N] [--max-bytes N] "
               "[--dtype f32|f16|bf16] [--rounds N] [--csv FILE]\n",
               why);
  MPI_Abort(MPI_COMM_WORLD, 2);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((f + " needs a value").c_str());
      return argv[++i];
    };
    if (f == "--min-bytes") {
      a.min_bytes = std::atoll(value().c_str());
    } else if (f == "--max-bytes") {
      a.max_bytes = std::atoll(value().c_str());
    } else if (f == "--rounds") {
      a.rounds = std::max(1, std::atoi(value().c_str()));
    } else if (f == "--csv") {
      a.csv = value();
    } else if (f == "--dtype") {
      const std::string v = value();
      a.dtype = v == "f16" ? porta::DType::f16 : v == "bf16" ? porta::DType::bf16 : porta::DType::f32;
      if (v != "f32" && v != "f16" && v != "bf16") usage("--dtype is f32, f16 or bf16");
    } else {
      usage(("unknown argument " + f).c_str());
    }
  }
  if (a.min_bytes < 4 || a.max_bytes < a.min_bytes) usage("need 4 <= --min-bytes <= --max-bytes");
  return a;
}

// Slowest rank's time.
double slowest(double t) {
  double m = 0;
  MPI_Allreduce(&t, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return m;
}

template <typename Fn>
double mean_seconds(int iters, Fn&& fn) {
  fn();  // warm-up (and the staging buffers' first growth)
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  for (int i = 0; i < iters; ++i) fn();
  return slowest((MPI_Wtime() - t0) / iters);
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  const Args a = parse(argc, argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = 0;
  try {
    const porta::Device dev = porta::Device::select();
    porta::Stream s(dev);
    porta::Communicator comm = porta::Communicator::from_mpi(dev, MPI_Comm_c2f(MPI_COMM_WORLD));
    const size_t es = porta::dtype_size(a.dtype);
    const double bus = 2.0 * (size - 1) / size;
    FILE* csv = nullptr;
    if (rank == 0) {
      std::printf("porta-comm-bench: %d ranks, %s, transport %s, %s; baseline MPI_Allreduce (%s) on host buffers\n",
                  size, dev.description().c_str(), comm.transport().c_str(), porta::dtype_name(a.dtype),
                  a.dtype == porta::DType::f32 ? "MPI_FLOAT, MPI_SUM" : "same bytes as MPI_SHORT, MPI_SUM");
      std::printf("| bytes | porta time (us) | porta busbw (GB/s) | MPI_Allreduce time (us) | MPI busbw (GB/s) | "
                  "porta / MPI |\n|---:|---:|---:|---:|---:|---:|\n");
      if (!a.csv.empty()) {
        csv = std::fopen(a.csv.c_str(), "w");
        if (csv) std::fprintf(csv, "device,transport,ranks,dtype,bytes,porta_us,porta_busbw_gbps,mpi_us,mpi_busbw_gbps,ratio\n");
      }
    }
    for (int64_t bytes = a.min_bytes; bytes <= a.max_bytes; bytes *= 2) {
      const int64_t n = bytes / static_cast<int64_t>(es);
      if (static_cast<uint64_t>(bytes) > dev.info().max_allocation_bytes) {
        if (rank == 0) std::printf("| %lld | (larger than the device's largest allocation) | | | | |\n",
                                   static_cast<long long>(bytes));
        break;
      }
      porta::Tensor in = porta::Tensor::empty(dev, a.dtype, {n});
      porta::Tensor out = porta::Tensor::empty(dev, a.dtype, {n});
      porta::ops::fill(s, in, 0.5);
      std::vector<char> hin(static_cast<size_t>(bytes)), hout(static_cast<size_t>(bytes));
      for (size_t i = 0; i < hin.size() / 4; ++i) reinterpret_cast<float*>(hin.data())[i] = 0.5f;
      // Enough iterations for ~64 MiB moved per round, at least 3.
      const int iters = static_cast<int>(std::clamp<int64_t>((int64_t{64} << 20) / bytes, 3, 200));
      double best_porta = 1e30, best_mpi = 1e30;
      for (int r = 0; r < a.rounds; ++r) {
        best_porta = std::min(best_porta, mean_seconds(iters, [&] {
                                comm.all_reduce(s, in, out);
                                s.synchronize();
                              }));
        best_mpi = std::min(best_mpi, mean_seconds(iters, [&] {
                              if (a.dtype == porta::DType::f32)
                                MPI_Allreduce(hin.data(), hout.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                                              MPI_COMM_WORLD);
                              else  // MPI has no f16/bf16: the same bytes as 16-bit integers
                                MPI_Allreduce(hin.data(), hout.data(), static_cast<int>(n), MPI_SHORT, MPI_SUM,
                                              MPI_COMM_WORLD);
                            }));
      }
      if (rank == 0) {
        const double pb = static_cast<double>(bytes) / best_porta * bus / 1e9;
        const double mb = static_cast<double>(bytes) / best_mpi * bus / 1e9;
        std::printf("| %lld | %.1f | %.3f | %.1f | %.3f | %.2fx |\n", static_cast<long long>(bytes), best_porta * 1e6,
                    pb, best_mpi * 1e6, mb, pb / mb);
        std::fflush(stdout);
        if (csv)
          std::fprintf(csv, "\"%s\",%s,%d,%s,%lld,%.3f,%.4f,%.3f,%.4f,%.4f\n", dev.description().c_str(),
                       comm.transport().c_str(), size, porta::dtype_name(a.dtype), static_cast<long long>(bytes),
                       best_porta * 1e6, pb, best_mpi * 1e6, mb, pb / mb);
      }
    }
    if (csv) std::fclose(csv);
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "porta-comm-bench (rank %d): %s\n", rank, e.what());
    rc = 1;
  }
  MPI_Finalize();
  return rc;
}
