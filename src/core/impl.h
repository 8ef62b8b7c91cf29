// Core's objects behind the public handles: one DeviceImpl per backend device,
// BufferImpl per allocation, StreamImpl per stream, EventImpl per event.
#pragma once

#include <array>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "core/backend.h"
#include "porta/device.h"
#include "porta/error.h"
#include "porta/stream.h"

namespace porta::detail {

class BufferImpl;
class StreamImpl;

class DeviceImpl {
 public:
  DeviceImpl(std::shared_ptr<backend::Backend> owner, std::unique_ptr<backend::Device> dev, DeviceInfo info)
      : owner_(std::move(owner)), dev_(std::move(dev)), info_(std::move(info)) {}

  const DeviceInfo& info() const { return info_; }
  backend::Device& backend() { return *dev_; }
  /// "cpu:0 (AMD EPYC 7B13)"
  std::string label() const;

  /// Throws device_lost when an earlier call lost the device.
  void check_alive(const char* what) const;
  /// Runs fn (a call into the backend) and turns whatever it throws into porta::Error;
  /// a device_lost error marks this device lost for good.
  template <typename Fn>
  auto call(const char* what, Fn&& fn) -> decltype(fn()) {
    check_alive(what);
    try {
      return fn();
    } catch (const Error& e) {
      if (e.code() == Errc::device_lost) mark_lost(e.what());
      // Name the op when the backend's message does not (error path only).
      if (std::string_view(e.what()).rfind(what, 0) == 0) throw;
      throw Error(e.code(), std::string(what) + ": " + e.what());
    } catch (const std::bad_alloc&) {
      throw Error(Errc::out_of_memory, std::string(what) + ": out of host memory on " + label());
    } catch (const std::exception& e) {
      throw Error(Errc::internal, std::string(what) + ": backend failure on " + label() + ": " + e.what());
    }
  }

  void mark_lost(const std::string& reason);
  bool lost() const { return lost_.load(std::memory_order_acquire); }
  /// Drops the default stream (at exit, Registry::shutdown).
  void shutdown();
  /// A new DeviceImpl for the same physical device, from Backend::recreate (Device::recreate).
  std::shared_ptr<DeviceImpl> call_backend_recreate(const backend::Options& opts);
  std::atomic<uint64_t>& allocated() { return allocated_; }

  // Core's lifetime rule (lifetimes.cpp): streams register; a released buffer is handed to
  // every stream that may still use it, or freed at once.
  void add_stream(StreamImpl* s);
  void remove_stream(StreamImpl* s);
  void retire(BufferImpl& b);
  /// Waits for the fences already recorded on this device's streams and frees what they
  /// held (Event::synchronize is thread safe); the out-of-memory path retries after it.
  void reclaim();
  Stream& default_stream(const Device& self);

 private:
  std::shared_ptr<backend::Backend> owner_;  // keeps the backend (and its module) alive
  std::unique_ptr<backend::Device> dev_;
  DeviceInfo info_;
  std::atomic<bool> lost_{false};
  mutable std::mutex mu_;
  std::string lost_reason_;
  std::atomic<uint64_t> allocated_{0};
  std::mutex streams_mu_;
  std::vector<StreamImpl*> streams_;
  std::once_flag stream_once_;
  std::unique_ptr<Stream> default_stream_;
};

/// One allocation. Its backend buffer outlives the handle: when the last Tensor drops it,
/// DeviceImpl::retire keeps the memory until every stream that used it has passed its last
/// use (core's lifetime rule, lifetimes.cpp), so engines may drop handles right after
/// enqueuing work.
class BufferImpl {
 public:
  BufferImpl(std::shared_ptr<DeviceImpl> device, std::unique_ptr<backend::Buffer> buf);
  ~BufferImpl();
  backend::Buffer& get() { return *buf_; }
  uint64_t size() const { return size_; }
  /// Stream `stream_id` uses this buffer in its submission `seq`. Called on the stream's
  /// owner thread for every tensor of every op: lock-free, no allocation.
  void mark_use(uint64_t stream_id, uint64_t seq) {
    for (auto& u : uses_) {
      uint64_t id = u.stream.load(std::memory_order_relaxed);
      if (id == 0 && u.stream.compare_exchange_strong(id, stream_id)) id = stream_id;
      if (id == stream_id) {
        if (u.seq.load(std::memory_order_relaxed) < seq) u.seq.store(seq, std::memory_order_relaxed);
        return;
      }
    }
    many_streams_.store(true, std::memory_order_relaxed);  // then every stream counts as a user
  }

 private:
  friend class DeviceImpl;
  struct Use {
    std::atomic<uint64_t> stream{0}, seq{0};
  };
  std::shared_ptr<DeviceImpl> device_;
  std::unique_ptr<backend::Buffer> buf_;
  uint64_t size_;
  std::array<Use, 4> uses_;
  std::atomic<bool> many_streams_{false};
};

/// A stream: its backend queue, plus the bookkeeping of core's lifetime rule. Submissions
/// are numbered; buffers released while work of this stream may still use them wait here
/// (pending), then behind an event recorded on the queue (fenced), until that event passed.
class StreamImpl {
 public:
  StreamImpl(Device dev, std::unique_ptr<backend::Queue> q);
  ~StreamImpl();  // waits for the queue, then frees what waited on it
  Device device;
  std::unique_ptr<backend::Queue> queue;
  const uint64_t id;

  /// The number of the submission about to be made (owner thread). Also records a fence
  /// for buffers released since the last call and frees those whose fence passed: the
  /// only work on this path when nothing was released is one relaxed atomic load.
  uint64_t begin_submission() {
    if (retired_.load(std::memory_order_relaxed)) service();
    return seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  uint64_t submitted() const { return seq_.load(std::memory_order_relaxed); }
  uint64_t synced() const { return synced_.load(std::memory_order_acquire); }
  /// Everything submitted up to `upto` has completed (after queue->synchronize()).
  void completed(uint64_t upto);
  /// Keeps `buf` until this stream passed submission `seq` (any thread).
  void defer(std::shared_ptr<backend::Buffer> buf, uint64_t seq);

 private:
  void service();
  std::atomic<uint64_t> seq_{0}, synced_{0};
  std::atomic<bool> retired_{false};  // pending_ or fenced_ non-empty
  std::mutex mu_;
  std::vector<std::pair<std::shared_ptr<backend::Buffer>, uint64_t>> pending_;
  struct Fenced {
    std::unique_ptr<backend::Event> event;
    std::vector<std::shared_ptr<backend::Buffer>> buffers;
  };
  std::vector<Fenced> fenced_;  // in recording order
};

class EventImpl {
 public:
  EventImpl(Device dev, std::unique_ptr<backend::Event> e) : device(std::move(dev)), event(std::move(e)) {}
  Device device;
  std::unique_ptr<backend::Event> event;
  bool recorded = false;
  /// Serialises record / wait / synchronize / elapsed on this event across threads, so a
  /// backend's Event needs no lock of its own (backend.h, Event).
  std::mutex mu;
};

}  // namespace porta::detail
