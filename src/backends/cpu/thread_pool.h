// A fixed pool of worker threads for the cpu backend's kernels. The calling
// thread takes part in the work, so a pool of N threads has N-1 workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace porta::cpu {

class ThreadPool {
 public:
  /// threads <= 0: one per hardware thread. fixed_partition: see partition_width().
  explicit ThreadPool(int threads, bool fixed_partition = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  /// The thread count a kernel may use to decide how to split a reduction: size(), or a
  /// constant under PORTA_DETERMINISTIC, so that the split and hence the rounding do not
  /// depend on the host's cores or PORTA_CPU_THREADS. Work is still spread over size().
  int partition_width() const { return fixed_partition_ ? kFixedPartitionWidth : size(); }
  static constexpr int kFixedPartitionWidth = 8;

  /// Calls fn(tid, nthreads) on `nthreads` threads (clamped to size()) and waits.
  /// Calls made from inside a task run inline on one thread (tid 0, nthreads 1).
  /// An exception thrown by fn is rethrown here (the first one).
  void run(int nthreads, const std::function<void(int tid, int nthreads)>& fn);

  /// Splits [0, n) into chunks of at least `grain` items over the pool and calls
  /// fn(begin, end) for each.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  /// Calls fn(i, i + 1) for every i in [0, n), the pool's threads taking the next item as
  /// they finish one: for items that are independent and alike (whose results do not depend
  /// on which thread runs them), where a core slowed by another process or a slower core
  /// would hold a static split's whole call back.
  void parallel_for_each(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int tid);

  std::vector<std::thread> workers_;
  bool fixed_partition_ = false;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int, int)>* task_ = nullptr;  // guarded by mu_
  int task_threads_ = 0;                                 // guarded by mu_
  // Written under mu_, also read without it while spinning: a worker and the caller spin
  // briefly before sleeping, because a futex wake costs tens of microseconds (more in a
  // VM), as much as a whole small op of a decode step.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  std::exception_ptr error_;
  std::mutex run_mu_;  // one run() at a time (queues of different streams share the pool)
};

}  // namespace porta::cpu
