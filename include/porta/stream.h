// Streams (in-order queues of work on one device) and events.
#pragma once

#include <memory>

#include "porta/device.h"

namespace porta {

namespace detail {
class StreamImpl;
class EventImpl;
}  // namespace detail

class Event;

/// An in-order queue of work on one device. Ops enqueue and may return before
/// the work is done; synchronize() waits. A stream is used by one host thread
/// at a time; give each worker thread its own stream.
class Stream {
 public:
  /// A new stream on `device`.
  explicit Stream(const Device& device);
  ~Stream();
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const Device& device() const;
  /// Blocks until all work enqueued so far has finished. Reports deferred
  /// errors (e.g. device_lost) as porta::Error.
  void synchronize();
  /// Records `event` at the current point of this stream.
  void record(Event& event);
  /// Later work on this stream waits for `event` (recorded on any stream of the same device).
  void wait(const Event& event);

  detail::StreamImpl* impl() const { return impl_.get(); }

 private:
  std::unique_ptr<detail::StreamImpl> impl_;
};

/// A point in a stream, for ordering across streams and for timing.
class Event {
 public:
  explicit Event(const Device& device);
  ~Event();
  Event(Event&&) noexcept;
  Event& operator=(Event&&) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Blocks until the work before the recorded point has finished.
  void synchronize();
  /// Milliseconds between two recorded events of the same device (both must have completed
  /// or are waited for).
  static double elapsed_ms(Event& start, Event& end);

  detail::EventImpl* impl() const { return impl_.get(); }

 private:
  std::unique_ptr<detail::EventImpl> impl_;
};

}  // namespace porta
