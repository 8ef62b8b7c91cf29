// The skeleton's "device": one worker thread that runs the tasks every queue of the device
// enqueues, in submission order. A real backend has hardware queues and fences instead;
// this class shows which host-side state a backend keeps for them (sequence numbers,
// a sticky lost flag, work that must still run after a loss: frees).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace porta::skeleton {

/// Faults a test asks for, counted down per event (0 = off). Set through the module's
/// porta_skeleton_inject_fault hook or PORTA_SKELETON_FAULT.
struct Faults {
  int fail_alloc = 0;  // from the n-th next allocation on, all throw out_of_memory until cleared
  bool alloc_failing = false;
  int fail_launch = 0;  // the n-th next kernel launch throws internal (not sticky)
  int lose = 0;         // the n-th next task the device runs loses the device (sticky)
};

class DeviceThread {
 public:
  explicit DeviceThread(std::string label);
  ~DeviceThread();  // runs what is queued (frees included), then joins
  DeviceThread(const DeviceThread&) = delete;
  DeviceThread& operator=(const DeviceThread&) = delete;

  /// Enqueues fn; returns its sequence number. `kernel` tasks are dropped once the device is
  /// lost; others (frees, event stamps) always run. Throws device_lost when lost already.
  uint64_t submit(std::function<void()> fn, bool kernel);
  /// Enqueues a free: runs after every task submitted before it, even on a lost device.
  void submit_free(std::function<void()> fn);
  /// Blocks until task `seq` ran. Throws device_lost when the device was lost, or the first
  /// error a kernel raised (then clears it: launch errors are not sticky).
  void wait(uint64_t seq);
  /// Whether task `seq` ran (never blocks).
  bool done(uint64_t seq) const;
  /// Throws device_lost (naming the device and cause) when the device is lost.
  void check_alive() const;

  Faults& faults() { return faults_; }  // guarded by mu()
  std::atomic<uint64_t>& used_bytes() { return used_; }
  std::mutex& mu() const { return mu_; }
  const std::string& label() const { return label_; }

 private:
  struct Task {
    std::function<void()> fn;
    bool kernel;
    uint64_t seq;
  };
  void run();
  [[noreturn]] void throw_lost() const;

  std::string label_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Task> tasks_;
  uint64_t submitted_ = 0, completed_ = 0;
  bool stop_ = false;
  bool lost_ = false;
  std::string lost_reason_, kernel_error_;
  Faults faults_;
  std::atomic<uint64_t> used_{0};  // device memory in use (frees may run after the device object is gone)
  std::thread thread_;             // last: starts after the state above exists
};

}  // namespace porta::skeleton
