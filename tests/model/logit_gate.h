// The teacher-forced logit gate shared by the model accuracy tests: 32 steps (16 prefilled
// at once, 16 decoded one by one) through porta-run's model, against float64 reference
// logits; NMSE per step within a bound and top-1 agreement on the steps whose reference
// top-2 margin is clear.
#pragma once

#include <cstdint>
#include <vector>

#include "model.h"

namespace porta_run_test {

constexpr int kSteps = 32, kPrefill = 16;
// Steps whose reference top-2 margin exceeds this must agree on the top token (f32: all of
// them; lower-precision weights or activations: at least 95 %).
constexpr double kMargin = 0.02;
// Tolerances, stated once. Weights the device holds exactly (f32 activations): f32 rounding
// only. Weights rounded again on load (block formats -> bf16) or 16-bit activations: the
// rounding of a bf16/f16 value per element, through 2 layers.
constexpr double kExact = 1e-9, kRounded = 1e-3;

struct GateResult {
  double worst_nmse = 0;
  int clear = 0, agree = 0;
};

/// kSteps random ids below `vocab` (fixed seed).
std::vector<int32_t> gate_token_ids(int64_t vocab);

/// Runs `ids` teacher-forced through `m` and checks its logits against `want` ([kSteps, V]
/// row-major) with gtest expectations (failures name the step).
GateResult check_teacher_forced(porta_run::Model& m, porta::Stream& s, const std::vector<int32_t>& ids,
                                const std::vector<double>& want, double max_nmse, double min_top1);

}  // namespace porta_run_test
