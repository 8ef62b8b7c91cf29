// A test-only backend module: one fake "discrete GPU" backed by host memory. Its
// ops throw Errc::unsupported, or Errc::device_lost when PORTA_FAKEGPU_LOSE=1, so the
// tests can check plugin loading, 'auto' ranking and the sticky device_lost rule.
#include <cstring>
#include <vector>

#include "core/backend.h"

namespace {

using namespace porta;
using namespace porta::backend;

class HostMem final : public Buffer {
 public:
  explicit HostMem(uint64_t n) : Buffer(n), data_(n) {}
  void* host_ptr() override { return data_.data(); }

 private:
  std::vector<unsigned char> data_;
};

class NoEvent final : public backend::Event {
 public:
  void synchronize() override {}
  double elapsed_ms_since(backend::Event&) override { return 0; }
};

class FakeQueue final : public Queue {
 public:
  explicit FakeQueue(bool lose) : lose_(lose) {}
  void upload(Buffer& dst, uint64_t off, const void* src, uint64_t n) override {
    std::memcpy(static_cast<char*>(dst.host_ptr()) + off, src, n);
  }
  void download(const Buffer& src, uint64_t off, void* dst, uint64_t n) override {
    std::memcpy(dst, static_cast<char*>(const_cast<Buffer&>(src).host_ptr()) + off, n);
  }
  void synchronize() override {}
  void record(backend::Event&) override {}
  void wait(backend::Event&) override {}
  void gemm(const GemmArgs&) override { no("gemm"); }
  void attention(const AttentionArgs&) override { no("attention"); }
  void rms_norm(const NormArgs&) override { no("rms_norm"); }
  void layer_norm(const NormArgs&) override { no("layer_norm"); }
  void rope(const RopeArgs&) override { no("rope"); }
  void softmax(const SoftmaxArgs&) override { no("softmax"); }
  void elementwise(const ElementwiseArgs&) override { no("elementwise"); }
  void fill(const FillArgs&) override { no("fill"); }
  void embedding(const EmbeddingArgs&) override { no("embedding"); }
  void argmax(const ArgmaxArgs&) override { no("argmax"); }

 private:
  [[noreturn]] void no(const char* op) const {
    if (lose_) throw Error(Errc::device_lost, std::string("fakegpu: ") + op + " lost the device (simulated)");
    throw Error(Errc::unsupported, std::string("fakegpu: ") + op + " is not implemented by the fake device");
  }
  bool lose_;
};

class FakeDevice final : public backend::Device {
 public:
  explicit FakeDevice(bool lose) : lose_(lose) {
    info_.name = "Fake Discrete GPU";
    info_.vendor = "porta tests";
    info_.type = DeviceType::discrete_gpu;
    info_.uuid = "feedface00000000";
    info_.memory_bytes = 1ull << 30;
    info_.max_allocation_bytes = 1ull << 28;
    info_.dtypes = dtype_bit(DType::f32);
  }
  DeviceInfo& info() override { return info_; }
  std::unique_ptr<Buffer> allocate(uint64_t n) override { return std::make_unique<HostMem>(n); }
  std::unique_ptr<Queue> create_queue() override { return std::make_unique<FakeQueue>(lose_); }
  std::unique_ptr<backend::Event> create_event() override { return std::make_unique<NoEvent>(); }

 private:
  bool lose_;
  DeviceInfo info_;
};

class FakeBackend final : public Backend {
 public:
  const char* name() const override { return "fakegpu"; }
  std::vector<std::unique_ptr<backend::Device>> enumerate(const Options& opts) override {
    std::vector<std::unique_ptr<backend::Device>> out;
    out.push_back(std::make_unique<FakeDevice>(opts.get("fakegpu", "LOSE", "0") == "1"));
    return out;
  }
};

Backend* create() { return new FakeBackend(); }

}  // namespace

PORTA_DEFINE_BACKEND(fakegpu, create)
