// Next-token choice from logits: greedy, or seeded sampling with temperature, top-k and
// top-p (nucleus) filtering, applied in that order.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace porta_run {

struct SamplerOptions {
  float temperature = 0.0f;  // 0: greedy (argmax, first on ties)
  int top_k = 0;             // 0: no limit
  float top_p = 1.0f;        // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& o) : o_(o), rng_(o.seed) {}
  int32_t next(const float* logits, int64_t vocab);

 private:
  SamplerOptions o_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace porta_run
