#include "sampler.h"

#include <algorithm>
#include <cmath>

namespace porta_run {

int32_t Sampler::next(const float* logits, int64_t vocab) {
  if (o_.temperature <= 0.0f) {
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best]) best = i;
    return static_cast<int32_t>(best);
  }
  cand_.clear();
  for (int64_t i = 0; i < vocab; ++i)
    if (std::isfinite(logits[i])) cand_.emplace_back(logits[i] / o_.temperature, static_cast<int32_t>(i));
  if (cand_.empty()) return 0;
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = cand_.size();
  if (o_.top_k > 0 && static_cast<size_t>(o_.top_k) < keep) {
    keep = static_cast<size_t>(o_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(keep), cand_.end(), by_logit);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(keep);
  // Softmax over the survivors (largest first), then the smallest prefix reaching top_p.
  double sum = 0;
  std::vector<double> p(keep);
  for (size_t i = 0; i < keep; ++i) sum += (p[i] = std::exp(static_cast<double>(cand_[i].first - cand_[0].first)));
  if (o_.top_p < 1.0f) {
    double acc = 0;
    size_t n = 0;
    while (n < keep && acc < o_.top_p * sum) acc += p[n++];
    keep = std::max<size_t>(n, 1);
    sum = acc > 0 ? acc : p[0];
  }
  double u = std::uniform_real_distribution<double>(0.0, sum)(rng_);
  for (size_t i = 0; i < keep; ++i) {
    if (u < p[i]) return cand_[i].second;
    u -= p[i];
  }
  return cand_[keep - 1].second;
}

}  // namespace porta_run
