#include "logit_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace porta_run_test {

std::vector<int32_t> gate_token_ids(int64_t vocab) {
  std::mt19937 rng(99);
  std::vector<int32_t> ids(kSteps);
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return ids;
}

GateResult check_teacher_forced(porta_run::Model& m, porta::Stream& s, const std::vector<int32_t>& ids,
                                const std::vector<double>& want, double max_nmse, double min_top1) {
  GateResult r;
  const int64_t V = m.config().vocab;
  std::vector<float> got = m.logits(s, std::vector<int32_t>(ids.begin(), ids.begin() + kPrefill), 0, true);
  for (int t = kPrefill; t < kSteps; ++t) {
    const std::vector<float> step = m.logits(s, {ids[static_cast<size_t>(t)]}, t, false);
    got.insert(got.end(), step.begin(), step.end());
  }
  EXPECT_EQ(got.size(), want.size());
  if (got.size() != want.size()) return r;
  for (int t = 0; t < kSteps; ++t) {
    const float* g = got.data() + t * V;
    const double* w = want.data() + t * V;
    double num = 0, den = 0;
    for (int64_t j = 0; j < V; ++j) {
      if (!std::isfinite(g[j])) {
        ADD_FAILURE() << "step " << t << " logit " << j << " is " << g[j];
        return r;
      }
      num += (g[j] - w[j]) * (g[j] - w[j]);
      den += w[j] * w[j];
    }
    const double nmse = num / den;
    r.worst_nmse = std::max(r.worst_nmse, nmse);
    EXPECT_LE(nmse, max_nmse) << "step " << t << (t < kPrefill ? " (prefill)" : " (decode)");
    std::vector<double> sorted(w, w + V);
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    if (sorted[0] - sorted[1] > kMargin) {
      ++r.clear;
      r.agree += std::max_element(g, g + V) - g == std::max_element(w, w + V) - w;
    }
  }
  EXPECT_GE(r.clear, kSteps * 3 / 4) << "too few steps with a clear top token: a weak test";
  EXPECT_GE(r.agree, static_cast<int>(std::ceil(min_top1 * r.clear)))
      << r.agree << " of " << r.clear << " clear steps agree";
  return r;
}

}  // namespace porta_run_test
