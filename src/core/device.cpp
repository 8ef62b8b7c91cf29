#include "porta/device.h"

#include <cstdio>

#include "core/impl.h"
#include "core/registry.h"
#include "porta/stream.h"

namespace porta {

const char* device_type_name(DeviceType t) noexcept {
  switch (t) {
    case DeviceType::discrete_gpu: return "discrete GPU";
    case DeviceType::integrated_gpu: return "integrated GPU";
    case DeviceType::cpu: return "CPU";
    case DeviceType::other: return "other";
  }
  return "?";
}

namespace detail {

std::string DeviceImpl::label() const {
  return info_.backend + ":" + std::to_string(info_.index) + " (" + info_.name + ")";
}

void DeviceImpl::check_alive(const char* what) const {
  if (!lost_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(mu_);
  throw Error(Errc::device_lost,
              std::string(what) + ": " + label() + " was lost earlier (" + lost_reason_ +
                  "); it refuses all work. Device::recreate(device) returns a fresh handle where the backend "
                  "supports it; otherwise restart the process.");
}

void DeviceImpl::mark_lost(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!lost_.exchange(true)) lost_reason_ = reason;
}

void DeviceImpl::shutdown() {
  try {
    default_stream_.reset();  // its destructor synchronizes
  } catch (const std::exception&) {
  }
}

std::shared_ptr<DeviceImpl> DeviceImpl::call_backend_recreate(const backend::Options& opts) {
  std::unique_ptr<backend::Device> dev;
  try {
    dev = owner_->recreate(*dev_, opts);
  } catch (const Error& e) {
    throw Error(e.code(), "Device::recreate: " + label() + ": " + e.what());
  }
  if (!dev) throw Error(Errc::internal, "Device::recreate: " + label() + ": the backend returned no device");
  dev->info() = info_;  // same index, backend and identity
  return std::make_shared<DeviceImpl>(owner_, std::move(dev), info_);
}

Stream& DeviceImpl::default_stream(const Device& self) {
  std::call_once(stream_once_, [&] { default_stream_ = std::make_unique<Stream>(self); });
  return *default_stream_;
}

}  // namespace detail

namespace {
detail::DeviceImpl& need(const std::shared_ptr<detail::DeviceImpl>& impl) {
  if (!impl)
    throw Error(Errc::invalid_argument,
                "porta::Device: the handle is empty; obtain one from porta::devices() or Device::select()");
  return *impl;
}
}  // namespace

const DeviceInfo& Device::info() const { return need(impl_).info(); }

std::string Device::description() const { return need(impl_).label(); }

Stream& Device::default_stream() const { return need(impl_).default_stream(*this); }

uint64_t Device::allocated_bytes() const { return need(impl_).allocated().load(); }

bool Device::supports(const std::string& op, DType in, DType out) const {
  auto& dev = need(impl_);
  for (int i = 0; i < static_cast<int>(backend::Op::count); ++i) {
    const auto kind = static_cast<backend::Op>(i);
    if (op == backend::op_name(kind)) return dev.backend().supports(kind, in, out);
  }
  throw Error(Errc::invalid_argument, "Device::supports: no op is named '" + op +
                                          "'; use the name of an ops:: function, e.g. \"gemm\"");
}

const std::vector<Device>& devices() { return detail::Registry::instance().devices(); }

std::vector<std::string> backend_diagnostics() { return detail::Registry::instance().diagnostics(); }

Device Device::select(const std::string& spec) { return detail::Registry::instance().select(spec); }

Device Device::recreate(const Device& lost) {
  need(lost.impl_);
  return detail::Registry::instance().recreate(lost);
}

}  // namespace porta
