// Core's lifetime rule: a buffer's memory is released only after every stream that used it
// has passed its last use. Ops mark the buffers they touch with the stream's submission
// number (BufferImpl::mark_use, lock-free); a released buffer goes to each stream whose
// synchronized point is behind that number, waits there for an event recorded on the queue
// (the fence each backend already has, polled with Event::query), and is freed once it passed.
// Backends therefore need no retire lists of their own; a backend that frees at once is safe.
#include <algorithm>
#include <atomic>

#include "core/impl.h"
#include "core/log.h"

namespace porta::detail {

namespace {
std::atomic<uint64_t> next_stream_id{1};
}

BufferImpl::BufferImpl(std::shared_ptr<DeviceImpl> device, std::unique_ptr<backend::Buffer> buf)
    : device_(std::move(device)), buf_(std::move(buf)), size_(buf_->size()) {
  device_->allocated() += size_;
}

BufferImpl::~BufferImpl() { device_->retire(*this); }

void DeviceImpl::add_stream(StreamImpl* s) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.push_back(s);
}

void DeviceImpl::remove_stream(StreamImpl* s) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), s), streams_.end());
}

void DeviceImpl::retire(BufferImpl& b) {
  const uint64_t n = b.size_;
  // The memory returns (and allocated_bytes() drops) when the last stream lets go of it.
  std::shared_ptr<backend::Buffer> buf(b.buf_.release(), [this, n](backend::Buffer* p) {
    delete p;
    allocated_ -= n;
  });
  const bool every = b.many_streams_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(streams_mu_);
  for (StreamImpl* s : streams_) {
    uint64_t seq = 0;
    if (every) {
      seq = s->submitted();
    } else {
      for (const auto& u : b.uses_)
        if (u.stream.load(std::memory_order_relaxed) == s->id) seq = u.seq.load(std::memory_order_relaxed);
    }
    if (seq > s->synced()) s->defer(buf, seq);
  }
}  // freed here unless a stream keeps it

void DeviceImpl::reclaim() {
  // Under the lock, so no stream is destroyed meanwhile (~StreamImpl unregisters first).
  std::lock_guard<std::mutex> lock(streams_mu_);
  for (StreamImpl* s : streams_) s->completed(0);
}

StreamImpl::StreamImpl(Device dev, std::unique_ptr<backend::Queue> q)
    : device(std::move(dev)), queue(std::move(q)), id(next_stream_id.fetch_add(1)) {
  device.impl()->add_stream(this);
}

StreamImpl::~StreamImpl() {
  try {
    queue->synchronize();
  } catch (const std::exception& e) {
    // A lost device: its backend must still accept frees (backend.h, Buffer).
    log_debug(std::string("stream destroyed with failed work: ") + e.what());
  }
  device.impl()->remove_stream(this);
  std::lock_guard<std::mutex> lock(mu_);
  pending_.clear();
  fenced_.clear();
}

void StreamImpl::defer(std::shared_ptr<backend::Buffer> buf, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.emplace_back(std::move(buf), seq);
  retired_.store(true, std::memory_order_relaxed);
}

void StreamImpl::completed(uint64_t upto) {
  std::vector<Fenced> done;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  if (upto > 0) {
    synced_.store(std::max(synced_.load(), upto), std::memory_order_release);
    pending_.erase(
        std::remove_if(pending_.begin(), pending_.end(), [&](const auto& p) { return p.second <= upto; }),
        pending_.end());
    done.swap(fenced_);
  } else {  // reclaim(): wait for the fences already recorded
    for (auto& f : fenced_) {
      try {
        f.event->synchronize();
      } catch (const std::exception&) {  // lost: nothing runs any more
      }
    }
    done.swap(fenced_);
  }
  retired_.store(!pending_.empty(), std::memory_order_relaxed);
}

void StreamImpl::service() {
  std::vector<Fenced> passed;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  try {
    while (n < fenced_.size() && fenced_[n].event->query()) ++n;
    if (!pending_.empty()) {
      // One event covers everything submitted so far, so every pending buffer waits on it.
      Fenced f;
      f.event = device.impl()->backend().create_event();
      queue->record(*f.event);
      for (auto& p : pending_) f.buffers.push_back(std::move(p.first));
      pending_.clear();
      fenced_.push_back(std::move(f));
    }
  } catch (const Error& e) {
    // The op that follows reports the error. A lost device runs nothing more: free it all.
    if (e.code() == Errc::device_lost) {
      device.impl()->mark_lost(e.what());
      pending_.clear();
      n = fenced_.size();
    }
  } catch (const std::exception&) {
  }
  for (size_t i = 0; i < n; ++i) passed.push_back(std::move(fenced_[i]));
  fenced_.erase(fenced_.begin(), fenced_.begin() + static_cast<std::ptrdiff_t>(n));
  retired_.store(!fenced_.empty() || !pending_.empty(), std::memory_order_relaxed);
}

}  // namespace porta::detail
