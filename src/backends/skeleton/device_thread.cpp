#include "backends/skeleton/device_thread.h"

#include "porta/error.h"

namespace porta::skeleton {

DeviceThread::DeviceThread(std::string label) : label_(std::move(label)), thread_([this] { run(); }) {}

DeviceThread::~DeviceThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void DeviceThread::throw_lost() const {
  throw Error(Errc::device_lost, label_ + ": device lost (" + lost_reason_ + ")");
}

void DeviceThread::check_alive() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (lost_) throw_lost();
}

uint64_t DeviceThread::submit(std::function<void()> fn, bool kernel) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lost_) throw_lost();
  if (kernel && faults_.fail_launch > 0 && --faults_.fail_launch == 0)
    throw Error(Errc::internal, label_ + ": kernel launch failed (injected fault); the device stays usable");
  tasks_.push_back({std::move(fn), kernel, ++submitted_});
  work_cv_.notify_one();
  return submitted_;
}

void DeviceThread::submit_free(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  tasks_.push_back({std::move(fn), false, ++submitted_});
  work_cv_.notify_one();
}

void DeviceThread::wait(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return completed_ >= seq || lost_; });
  if (lost_) throw_lost();
  if (!kernel_error_.empty()) {
    const std::string e = std::move(kernel_error_);
    kernel_error_.clear();
    throw Error(Errc::internal, label_ + ": " + e);
  }
}

bool DeviceThread::done(uint64_t seq) const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_ >= seq || lost_;
}

void DeviceThread::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stop_ and drained
    Task t = std::move(tasks_.front());
    tasks_.pop_front();
    if (t.kernel && !lost_ && faults_.lose > 0 && --faults_.lose == 0) {
      lost_ = true;
      lost_reason_ = "injected fault: lost while running queued work";
    }
    const bool skip = t.kernel && lost_;
    lock.unlock();
    std::string error;
    if (!skip) {
      try {
        t.fn();
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    t.fn = nullptr;  // release captured state outside the lock
    lock.lock();
    if (!error.empty() && kernel_error_.empty()) kernel_error_ = error;
    completed_ = t.seq;
    done_cv_.notify_all();
  }
}

}  // namespace porta::skeleton
