// Core's objects behind the public handles: one DeviceImpl per backend device,
// BufferImpl per allocation, StreamImpl per stream, EventImpl per event.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "core/backend.h"
#include "porta/device.h"
#include "porta/error.h"
#include "porta/stream.h"

namespace porta::detail {

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
  std::atomic<uint64_t>& allocated() { return allocated_; }
  Stream& default_stream(const Device& self);

 private:
  std::shared_ptr<backend::Backend> owner_;  // keeps the backend (and its module) alive
  std::unique_ptr<backend::Device> dev_;
  DeviceInfo info_;
  std::atomic<bool> lost_{false};
  mutable std::mutex mu_;
  std::string lost_reason_;
  std::atomic<uint64_t> allocated_{0};
  std::once_flag stream_once_;
  std::unique_ptr<Stream> default_stream_;
};

class BufferImpl {
 public:
  BufferImpl(std::shared_ptr<DeviceImpl> device, std::unique_ptr<backend::Buffer> buf)
      : device_(std::move(device)), buf_(std::move(buf)) {
    device_->allocated() += buf_->size();
  }
  ~BufferImpl() { device_->allocated() -= buf_->size(); }
  backend::Buffer& get() { return *buf_; }
  uint64_t size() const { return buf_->size(); }

 private:
  std::shared_ptr<DeviceImpl> device_;
  std::unique_ptr<backend::Buffer> buf_;
};

class StreamImpl {
 public:
  StreamImpl(Device dev, std::unique_ptr<backend::Queue> q) : device(std::move(dev)), queue(std::move(q)) {}
  Device device;
  std::unique_ptr<backend::Queue> queue;
};

class EventImpl {
 public:
  EventImpl(Device dev, std::unique_ptr<backend::Event> e) : device(std::move(dev)), event(std::move(e)) {}
  Device device;
  std::unique_ptr<backend::Event> event;
  bool recorded = false;
};

}  // namespace porta::detail
