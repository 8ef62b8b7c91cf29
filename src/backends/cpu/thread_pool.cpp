#include "backends/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PORTA_CPU_RELAX() _mm_pause()
#else
#define PORTA_CPU_RELAX() std::this_thread::yield()
#endif

namespace porta::cpu {

namespace {
thread_local bool t_inside_pool = false;

// How long a thread polls before it sleeps on the condition variable: long enough to
// cover the gap between two ops issued back to back, short enough not to burn a core
// that another process on a shared host wants.
constexpr auto kSpin = std::chrono::microseconds(50);

// Polls done() for up to kSpin; true when it became true.
template <typename Done>
bool spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      PORTA_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}
}  // namespace

ThreadPool::ThreadPool(int threads, bool fixed_partition) : fixed_partition_(fixed_partition) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::worker_loop(int tid) {
  t_inside_pool = true;
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int, int)>* task;
    int nthreads;
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      task = task_;
      nthreads = task_threads_;
    }
    if (tid < nthreads) {
      try {
        (*task)(tid, nthreads);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);  // the caller may be between its check and its wait
        done_cv_.notify_one();
      }
    }
  }
}

void ThreadPool::run(int nthreads, const std::function<void(int, int)>& fn) {
  nthreads = std::clamp(nthreads, 1, size());
  if (nthreads == 1 || t_inside_pool) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = &fn;
    task_threads_ = nthreads;
    pending_.store(nthreads - 1, std::memory_order_relaxed);
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  std::exception_ptr mine;
  t_inside_pool = true;
  try {
    fn(0, nthreads);
  } catch (...) {
    mine = std::current_exception();
  }
  t_inside_pool = false;
  spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  task_ = nullptr;
  if (mine) std::rethrow_exception(mine);
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = (n + grain - 1) / grain;
  const int nthreads = static_cast<int>(std::min<int64_t>(size(), max_chunks));
  run(nthreads, [&](int tid, int nt) {
    const int64_t begin = n * tid / nt;
    const int64_t end = n * (tid + 1) / nt;
    if (begin < end) fn(begin, end);
  });
}

void ThreadPool::parallel_for_each(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  std::atomic<int64_t> next{0};
  run(static_cast<int>(std::min<int64_t>(size(), n)), [&](int, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = next.fetch_add(1, std::memory_order_relaxed))
      fn(i, i + 1);
  });
}

}  // namespace porta::cpu
