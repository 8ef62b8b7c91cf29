// The accuracy gate for GPTQ and AWQ int4 checkpoints: tiny models quantized and packed by
// the test from each format's definition (tiny_packed.cpp), loaded by porta-run (int4_zp
// weights through porta's importers, act-order as the weight's permutation) and run
// teacher-forced against the float64 reference on the dequantized weights the file holds.
// Devices without int4_zp skip the int4_zp cases (saying so); every device runs the
// act-order checkpoint dequantized on the host (--weights f32).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "checkpoint.h"
#include "logit_gate.h"
#include "model.h"
#include "porta/quant.h"
#include "reference/reference_model.h"
#include "support/harness.h"
#include "tiny_packed.h"

namespace {

using namespace porta_run_test;

struct PackedCase {
  const char* name;
  const char* arch;
  bool tied;
  PackedSpec packed;
  const char* weights;  // --weights
};

const std::vector<PackedCase>& packed_cases() {
  static const std::vector<PackedCase> c = {
      {"llama_gptq_v1_g64", "llama", false, {PackedKind::gptq_v1, 64, false}, "auto"},
      // a random g_idx per projection: q/k/v (and gate/up) permutations differ, so the
      // fused projections run as split weights; Qwen2's qkv bias is split with them
      {"qwen2_gptq_v1_act_order_g32", "qwen2", true, {PackedKind::gptq_v1, 32, true}, "auto"},
      {"llama_gptq_v2_g128", "llama", true, {PackedKind::gptq_v2, 128, false}, "auto"},
      {"qwen3_awq_g64", "qwen3", false, {PackedKind::awq, 64, false}, "auto"},
      // dequantized on the host (act-order undone there): exact in f32 on every device
      {"qwen2_gptq_act_order_as_f32", "qwen2", true, {PackedKind::gptq_v1, 32, true}, "f32"},
  };
  return c;
}

TinySpec packed_spec(const PackedCase& c) {
  TinySpec s;
  s.arch = c.arch;
  s.tied = c.tied;
  if (s.arch == "qwen3") s.heads = 8;
  if (s.arch == "qwen2") s.rope_theta = 1000000;
  return s;
}

struct Fixture {
  std::string dir;
  porta::ref::WeightMap held;
};

const Fixture& fixture(const PackedCase& c) {
  static std::map<std::string, Fixture> written;
  auto it = written.find(c.name);
  if (it != written.end()) return it->second;
  Fixture f;
  f.dir = ::testing::TempDir() + "porta_run_" + c.name + "_" + std::to_string(::getpid());
  ::mkdir(f.dir.c_str(), 0755);
  f.held = write_packed(make_tiny(packed_spec(c), 1234), f.dir, c.packed, 77);
  return written[c.name] = std::move(f);
}

using Param = std::tuple<porta::Device, size_t>;
class ModelPacked : public ::testing::TestWithParam<Param> {};

TEST_P(ModelPacked, TeacherForcedLogitsMatchFloat64Reference) {
  const porta::Device dev = std::get<0>(GetParam());
  const PackedCase& c = packed_cases()[std::get<1>(GetParam())];
  const bool int4_zp = std::string(c.weights) == "auto";
  if (int4_zp && !porta::supports_quant(dev, "gemm", porta::QuantFormat::int4_zp, porta::DType::f32))
    GTEST_SKIP() << dev.description()
                 << " runs no int4_zp weights (porta-run would load this checkpoint as bf16)";
  const Fixture& f = fixture(c);
  const TinyModel tm = make_tiny(packed_spec(c), 1234);
  const std::vector<int32_t> ids = gate_token_ids(tm.spec.vocab);
  const std::vector<double> want = porta::ref::decoder_logits(tm.ref_spec(), f.held, ids);

  porta::Stream s(dev);
  auto ck = porta_run::Checkpoint::open(f.dir);
  ASSERT_TRUE(ck->packed_format().defined());
  porta_run::ModelOptions mo;
  mo.weights = porta_run::parse_weight_format(c.weights);
  mo.ctx = 64;
  porta_run::Model m(*ck, s, mo);
  const std::string summary = m.weights_summary();
  if (int4_zp) {
    EXPECT_NE(summary.find("int4_zp"), std::string::npos) << summary;
    EXPECT_EQ(summary.find("act-order") != std::string::npos, c.packed.act_order) << summary;
  }
  EXPECT_EQ(summary.find("not exact"), std::string::npos) << summary;
  const GateResult r = check_teacher_forced(m, s, ids, want, kExact, 1.0);
  std::printf("[ model    ] %-32s %-28s worst step NMSE %.2e, top-1 %d/%d (weights %s)\n", c.name,
              dev.description().substr(0, 28).c_str(), r.worst_nmse, r.agree, r.clear, summary.c_str());
}

std::vector<Param> params() {
  std::vector<Param> p;
  for (const porta::Device& d : porta::test::test_devices())
    for (size_t i = 0; i < packed_cases().size(); ++i) p.emplace_back(d, i);
  return p;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ModelPacked);
INSTANTIATE_TEST_SUITE_P(Devices, ModelPacked, ::testing::ValuesIn(params()), [](const auto& pinfo) {
  std::string d =
      std::get<0>(pinfo.param).info().backend + "_" + std::to_string(std::get<0>(pinfo.param).info().index);
  return d + "_" + packed_cases()[std::get<1>(pinfo.param)].name;
});

}  // namespace
