// Device, memory, capabilities and the module entry. The capabilities are deliberately
// narrow so core's paths for them run: no bf16 softmax or attention (supports()), and
// kernels that read only contiguous data (accepts_strided()), so core stages strided views.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backends/skeleton/skeleton.h"

namespace porta::skeleton {

namespace {
constexpr uint64_t kMemoryBytes = 256ull << 20;
constexpr uint8_t kPoison = 0xA5;  // what freed memory reads as in immediate-free mode
}  // namespace

SkelBuffer::SkelBuffer(std::shared_ptr<DeviceThread> dev, uint64_t bytes, bool defer_free)
    : Buffer(bytes), dev_(std::move(dev)), defer_free_(defer_free) {
  mem_ = static_cast<unsigned char*>(std::malloc(bytes ? bytes : 1));
  if (!mem_) throw Error(Errc::out_of_memory, dev_->label() + ": host allocation failed");
  dev_->used_bytes() += bytes;
}

SkelBuffer::~SkelBuffer() {
  unsigned char* m = mem_;
  const uint64_t n = size();
  auto release = [m, n, dev = dev_.get()] {  // the thread runs its queued frees before it ends
    std::free(m);
    dev->used_bytes() -= n;
  };
  if (defer_free_) {
    dev_->submit_free(release);
  } else {
    std::memset(m, kPoison, n);
    release();
  }
}

SkelDevice::SkelDevice(int index, bool defer_free)
    : dev_(std::make_shared<DeviceThread>("skeleton:" + std::to_string(index))), defer_free_(defer_free) {
  info_.name = "porta skeleton device " + std::to_string(index);
  info_.vendor = "porta";
  info_.type = DeviceType::other;
  info_.software = true;  // never chosen by 'auto'
  info_.uuid = "5ce1e70" + std::to_string(index);
  info_.memory_bytes = kMemoryBytes;
  info_.max_allocation_bytes = kMemoryBytes / 2;
  info_.dtypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) | dtype_bit(DType::bf16) |
                 dtype_bit(DType::i8) | dtype_bit(DType::i32);
}

std::unique_ptr<Buffer> SkelDevice::allocate(uint64_t bytes) {
  dev_->check_alive();
  {
    std::lock_guard<std::mutex> lock(dev_->mu());
    auto& f = dev_->faults();
    if (f.fail_alloc > 0 && --f.fail_alloc == 0) f.alloc_failing = true;
    if (f.alloc_failing)
      throw Error(Errc::out_of_memory, dev_->label() + ": allocation of " + std::to_string(bytes) +
                                           " bytes failed (injected fault)");
  }
  const uint64_t used = dev_->used_bytes().load();
  if (used + bytes > kMemoryBytes)
    throw Error(Errc::out_of_memory, dev_->label() + ": " + std::to_string(bytes) + " bytes requested, " +
                                         std::to_string(kMemoryBytes - used) + " free");
  return std::make_unique<SkelBuffer>(dev_, bytes, defer_free_);
}

std::unique_ptr<Queue> SkelDevice::create_queue() {
  dev_->check_alive();
  return std::make_unique<SkelQueue>(dev_);
}

std::unique_ptr<backend::Event> SkelDevice::create_event() { return std::make_unique<SkelEvent>(dev_); }

bool SkelDevice::accepts_strided(Op op) const {
  // copy is how core stages everything else, and fill writes any view; the rest get
  // contiguous tensors (broadcast operands still arrive with zero strides).
  return op == Op::copy || op == Op::fill;
}

bool SkelDevice::supports(Op op, DType in, DType out) const {
  if ((op == Op::softmax || op == Op::attention) && (in == DType::bf16 || out == DType::bf16)) return false;
  return backend::Device::supports(op, in, out);
}

// ---- backend and module entry

namespace {

std::vector<std::shared_ptr<DeviceThread>>& live_devices() {
  static std::vector<std::shared_ptr<DeviceThread>> devices;  // for the fault hook; set at enumeration
  return devices;
}

Faults parse_faults(const std::string& spec) {
  // "lose=3,alloc=2,launch=1"
  Faults f;
  size_t pos = 0;
  while (pos < spec.size()) {
    const size_t comma = spec.find(',', pos);
    const std::string term = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t eq = term.find('=');
    const int n = eq == std::string::npos ? 1 : std::atoi(term.c_str() + eq + 1);
    const std::string key = term.substr(0, eq);
    if (key == "lose") f.lose = n;
    if (key == "alloc") f.fail_alloc = n;
    if (key == "launch") f.fail_launch = n;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return f;
}

class SkelBackend final : public Backend {
 public:
  const char* name() const override { return "skeleton"; }
  std::vector<std::unique_ptr<backend::Device>> enumerate(const Options& opts) override {
    const int n = std::max(1, std::atoi(opts.get("skeleton", "DEVICES", "1").c_str()));
    const bool defer = opts.get("skeleton", "FREE", "deferred") != "immediate";
    const Faults faults = parse_faults(opts.get("skeleton", "FAULT", ""));
    std::vector<std::unique_ptr<backend::Device>> out;
    for (int i = 0; i < n; ++i) {
      auto d = std::make_unique<SkelDevice>(i, defer);
      if (i == 0) d->thread()->faults() = faults;
      live_devices().push_back(d->thread());
      out.push_back(std::move(d));
    }
    return out;
  }

  // A lost skeleton device gets a new device thread; the lost one finishes its queued frees.
  std::unique_ptr<backend::Device> recreate(backend::Device& lost, const Options& opts) override {
    const int index = lost.info().index;
    auto d = std::make_unique<SkelDevice>(index, opts.get("skeleton", "FREE", "deferred") != "immediate");
    live_devices()[static_cast<size_t>(index)] = d->thread();
    return d;
  }
};

Backend* create() { return new SkelBackend(); }

}  // namespace
}  // namespace porta::skeleton

/// Test hook: arm a fault on skeleton device `index` ("alloc", "launch" or "lose"), firing
/// on the `countdown`-th next event of that kind ("alloc" keeps failing, core's retry
/// included, until armed again; countdown 0 disarms). Returns 0, or -1 for a bad index or kind.
PORTA_BACKEND_EXPORT int porta_skeleton_inject_fault(int index, const char* kind, int countdown) {
  auto& devs = porta::skeleton::live_devices();
  if (index < 0 || static_cast<size_t>(index) >= devs.size() || kind == nullptr) return -1;
  auto& t = *devs[static_cast<size_t>(index)];
  std::lock_guard<std::mutex> lock(t.mu());
  const std::string k = kind;
  if (k == "alloc") {
    t.faults().fail_alloc = countdown;
    t.faults().alloc_failing = false;  // countdown 0 disarms
  } else if (k == "launch")
    t.faults().fail_launch = countdown;
  else if (k == "lose")
    t.faults().lose = countdown;
  else
    return -1;
  return 0;
}

PORTA_DEFINE_BACKEND(skeleton, porta::skeleton::create)
