// porta-dispatch: host-side cost of one small op (add of 16 f32 elements), per device.
// Enqueues batches of ops and synchronizes once per batch. "enqueue" is the host's time per
// call (validation, core bookkeeping, the backend's recording, and any wait the backend does
// when its queue is full); "total" adds the device's execution up to the synchronize.
// Medians of repeated batches.
//   porta-dispatch [--devices=cpu,vulkan] [--ops=N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "porta/porta.h"

int main(int argc, char** argv) {
  std::string filter;
  int ops = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--devices=", 10) == 0) filter = argv[i] + 10;
    if (std::strncmp(argv[i], "--ops=", 6) == 0) ops = std::max(1, std::atoi(argv[i] + 6));
  }
  std::printf("%-44s %12s %12s\n", "device", "enqueue ns", "total ns");
  for (const auto& dev : porta::devices()) {
    const std::string id = dev.info().backend + ":" + std::to_string(dev.info().index);
    if (!filter.empty() && ("," + filter + ",").find("," + dev.info().backend + ",") == std::string::npos &&
        ("," + filter + ",").find("," + id + ",") == std::string::npos)
      continue;
    try {
      porta::Stream s(dev);
      std::vector<float> h(16, 1.0f);
      auto a = porta::Tensor::from_host(s, porta::DType::f32, {16}, h.data());
      auto b = porta::Tensor::from_host(s, porta::DType::f32, {16}, h.data());
      auto c = porta::Tensor::empty(dev, porta::DType::f32, {16});
      for (int i = 0; i < 200; ++i) porta::ops::add(s, a, b, c);  // warm-up: pipelines, pools
      s.synchronize();
      std::vector<double> per_op, enqueue;
      for (int rep = 0; rep < 7; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < ops; ++i) porta::ops::add(s, a, b, c);
        const auto te = std::chrono::steady_clock::now();
        s.synchronize();
        const auto t1 = std::chrono::steady_clock::now();
        enqueue.push_back(std::chrono::duration<double, std::nano>(te - t0).count() / ops);
        per_op.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / ops);
      }
      std::sort(per_op.begin(), per_op.end());
      std::sort(enqueue.begin(), enqueue.end());
      std::printf("%-44s %12.0f %12.0f\n", dev.description().c_str(), enqueue[enqueue.size() / 2],
                  per_op[per_op.size() / 2]);
    } catch (const porta::Error& e) {
      std::printf("%-40s failed: %s\n", dev.description().c_str(), e.what());
    }
  }
  return 0;
}
