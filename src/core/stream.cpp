#include "porta/stream.h"

#include <mutex>

#include "core/impl.h"

namespace porta {

namespace {
detail::DeviceImpl& need_device(const Device& d, const char* what) {
  if (!d.valid())
    throw Error(Errc::invalid_argument,
                std::string(what) + ": the device handle is empty; use porta::Device::select()");
  return *d.impl();
}
}  // namespace

Stream::Stream(const Device& device) {
  auto& dev = need_device(device, "Stream");
  auto q = dev.call("Stream", [&] { return dev.backend().create_queue(); });
  impl_ = std::make_unique<detail::StreamImpl>(device, std::move(q));
}
Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

const Device& Stream::device() const { return impl_->device; }

void Stream::synchronize() {
  const uint64_t upto = impl_->submitted();
  impl_->device.impl()->call("Stream::synchronize", [&] { impl_->queue->synchronize(); });
  impl_->completed(upto);
}

void Stream::record(Event& event) {
  if (event.impl()->device != impl_->device)
    throw Error(Errc::device_mismatch, "Stream::record: the event belongs to " +
                                           event.impl()->device.description() + ", the stream to " +
                                           impl_->device.description() +
                                           "; create the event on the stream's device");
  std::lock_guard<std::mutex> lock(event.impl()->mu);
  impl_->device.impl()->call("Stream::record", [&] { impl_->queue->record(*event.impl()->event); });
  event.impl()->recorded = true;
}

void Stream::wait(const Event& event) {
  if (event.impl()->device != impl_->device)
    throw Error(Errc::device_mismatch,
                "Stream::wait: the event belongs to " + event.impl()->device.description() +
                    ", the stream to " + impl_->device.description() +
                    "; synchronize the event on the host to order work across devices");
  std::lock_guard<std::mutex> lock(event.impl()->mu);
  if (!event.impl()->recorded)
    throw Error(Errc::invalid_argument,
                "Stream::wait: the event was never recorded; call Stream::record first");
  impl_->device.impl()->call("Stream::wait", [&] { impl_->queue->wait(*event.impl()->event); });
}

Event::Event(const Device& device) {
  auto& dev = need_device(device, "Event");
  auto e = dev.call("Event", [&] { return dev.backend().create_event(); });
  impl_ = std::make_unique<detail::EventImpl>(device, std::move(e));
}
Event::~Event() = default;
Event::Event(Event&&) noexcept = default;
Event& Event::operator=(Event&&) noexcept = default;

void Event::synchronize() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->recorded) return;
  impl_->device.impl()->call("Event::synchronize", [&] { impl_->event->synchronize(); });
}

double Event::elapsed_ms(Event& start, Event& end) {
  if (!start.impl_->recorded || !end.impl_->recorded)
    throw Error(Errc::invalid_argument, "Event::elapsed_ms: both events must be recorded on a stream first");
  if (start.impl_->device != end.impl_->device)
    throw Error(Errc::device_mismatch, "Event::elapsed_ms: events of different devices (" +
                                           start.impl_->device.description() + ", " +
                                           end.impl_->device.description() + ") cannot be compared");
  std::unique_lock<std::mutex> l1(start.impl_->mu, std::defer_lock), l2(end.impl_->mu, std::defer_lock);
  if (&start == &end) {
    l1.lock();
  } else {
    std::lock(l1, l2);
  }
  return end.impl_->device.impl()->call("Event::elapsed_ms", [&] {
    start.impl_->event->synchronize();
    end.impl_->event->synchronize();
    return end.impl_->event->elapsed_ms_since(*start.impl_->event);
  });
}

}  // namespace porta
