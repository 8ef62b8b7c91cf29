// OpenBLAS cblas_sgemm as the CPU baseline (f32 only: OpenBLAS's bf16 path is
// a slow reference on CPUs without AVX512-BF16, so it would flatter porta).
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "baseline.h"

namespace porta_bench {
namespace {

class OpenBlasGemm final : public BaselineCase {
 public:
  explicit OpenBlasGemm(const GemmProblem& p) : p_(p) {
    a_.resize(static_cast<size_t>(p.m * p.k));
    b_.resize(static_cast<size_t>(p.k * p.n * std::max(p.b_copies, 1)));
    c_.resize(static_cast<size_t>(p.m * p.n));
    // Values in [-1, 1) from a xorshift: mt19937 took seconds for the rotating weight
    // copies of the M=1 rows, on every trial Google Benchmark makes.
    uint64_t state = 1234;
    auto next = [&state] {
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      return static_cast<float>((state * 0x2545F4914F6CDD1Dull) >> 40) * (2.0f / 16777216.0f) - 1.0f;
    };
    for (auto& x : a_) x = next();
    for (auto& x : b_) x = next();
  }
  void run() override {
    const float* b = b_.data() + static_cast<size_t>(p_.k * p_.n) * next_b_;
    next_b_ = (next_b_ + 1) % std::max(p_.b_copies, 1);
    const auto m = static_cast<blasint>(p_.m), n = static_cast<blasint>(p_.n), k = static_cast<blasint>(p_.k);
    // Row-major: A is [M,K] (or [K,M] when transposed), B is [K,N] (or [N,K]).
    cblas_sgemm(CblasRowMajor, p_.trans_a ? CblasTrans : CblasNoTrans, p_.trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, 1.0f, a_.data(), p_.trans_a ? m : k, b, p_.trans_b ? k : n, 0.0f, c_.data(), n);
  }

 private:
  GemmProblem p_;
  std::vector<float> a_, b_, c_;
  int next_b_ = 0;
};

class OpenBlas final : public Baseline {
 public:
  explicit OpenBlas(int threads) : threads_(threads > 0 ? threads : openblas_get_num_threads()) {
    openblas_set_num_threads(threads_);
  }
  std::string name() const override { return "openblas"; }
  std::string description() const override {
    const char* timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
    return std::string("OpenBLAS cblas_sgemm (") + openblas_get_config() + ", " + std::to_string(threads_) +
           " threads, OPENBLAS_THREAD_TIMEOUT=" + (timeout ? timeout : "default") + ")";
  }
  std::unique_ptr<BaselineCase> prepare_gemm(const GemmProblem& p) override {
    using porta::DType;
    if (p.a != DType::f32 || p.b != DType::f32 || p.c != DType::f32) return nullptr;
    return std::make_unique<OpenBlasGemm>(p);
  }

 private:
  int threads_;
};

}  // namespace

// OpenBLAS's idle workers spin (sched_yield) for ~2^28 cycles after each call; on
// a 2-core host that steals a third of the cores from the porta run interleaved
// right after it (measured: a 110 ms 2-thread FMA loop took 160 ms after an sgemm).
// OPENBLAS_THREAD_TIMEOUT=4 makes them sleep at once and costs OpenBLAS nothing
// measurable (2048³ sgemm 176 vs 180 GFLOP/s). OpenBLAS reads it when it loads,
// before main(), so the program re-executes itself once with it set.
//
// OPENBLAS_CORETYPE: Debian's DYNAMIC_ARCH OpenBLAS picks its kernels by CPU model, and in
// VMs that report a generic model (a 5th-gen Xeon shows up as "Intel Xeon Processor") it
// falls back to Prescott (SSE3) kernels, 5x slower than its AVX-512 ones; on AVX-512 AMD
// parts it takes its Haswell kernels. Either would flatter porta, so unless the user set
// it, the baseline gets the widest kernel set the CPU runs: SkylakeX with AVX-512
// F/DQ/BW/VL, else Haswell with AVX2 + FMA.
void prepare_openblas_process(char** argv) {
  const bool have_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT") != nullptr;
  const bool have_core = std::getenv("OPENBLAS_CORETYPE") != nullptr;
  if (have_timeout && have_core) return;
  if (!have_timeout) setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (!have_core) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
      setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  }
#endif
  if (have_timeout && std::getenv("OPENBLAS_CORETYPE") == nullptr) return;  // nothing changed
  execv("/proc/self/exe", argv);
  std::perror(
      "porta-bench: re-exec with OPENBLAS_THREAD_TIMEOUT=4 failed; OpenBLAS workers may skew timings");
}

std::unique_ptr<Baseline> make_openblas_baseline(int threads) { return std::make_unique<OpenBlas>(threads); }

}  // namespace porta_bench
