// Bad GPTQ / AWQ checkpoints: packed tensors whose shapes disagree with each other or with
// the config, wrong dtypes, missing parts, a g_idx that is not a grouping, and the variants
// porta-run refuses by name (bits other than 4, kernel-specific repackings, other methods).
// Every one raises LoadError naming the file or key and what was expected (exit status 2).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "checkpoint.h"
#include "load_error.h"
#include "tiny_packed.h"

namespace {

using namespace porta_run_test;
using porta_run::LoadError;

const TinyModel& model() {
  static const TinyModel m = [] {
    TinySpec s;
    s.layers = 1;
    return make_tiny(s, 7);
  }();
  return m;
}

// Writes a packed checkpoint with `edit` applied to its tensors; returns the directory.
std::string write_bad(const std::string& name, const PackedSpec& p,
                      const std::function<void(std::vector<StEntry>&)>& edit,
                      const std::string& config = "") {
  const std::string dir =
      ::testing::TempDir() + "porta_run_badpacked_" + name + "_" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0755);
  std::vector<StEntry> e = packed_entries(model(), p, 5, nullptr);
  if (edit) edit(e);
  write_safetensors_file(dir + "/model.safetensors", e);
  write_config(model(), dir, config.empty() ? packed_config_json(p) : config);
  return dir;
}

StEntry& entry(std::vector<StEntry>& e, const std::string& name) {
  for (StEntry& x : e)
    if (x.name == name) return x;
  throw std::runtime_error("no tensor " + name);
}

// Replaces a 2-D tensor by one of `rows` x `cols` elements of the same dtype (zeros).
void reshape(std::vector<StEntry>& e, const std::string& name, int64_t rows, int64_t cols) {
  StEntry& x = entry(e, name);
  const size_t elem = x.dtype == "F16" ? 2 : 4;
  x.shape = {rows, cols};
  x.data.assign(static_cast<size_t>(rows * cols) * elem, 0);
}

void expect_error(const std::string& dir, const std::vector<std::string>& fragments) {
  try {
    porta_run::Checkpoint::open(dir);
    ADD_FAILURE() << dir << ": no error, expected one mentioning '" << fragments.front() << "'";
  } catch (const LoadError& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << f;
  }
}

const std::string kDown = "model.layers.0.mlp.down_proj";  // [256 out, 512 in]
const PackedSpec kGptq{PackedKind::gptq_v1, 64, true}, kAwq{PackedKind::awq, 64, false};

TEST(BadPackedFiles, GoodFilesOpen) {
  EXPECT_NO_THROW(porta_run::Checkpoint::open(write_bad("good_gptq", kGptq, nullptr)));
  EXPECT_NO_THROW(porta_run::Checkpoint::open(write_bad("good_awq", kAwq, nullptr)));
}

TEST(BadPackedFiles, InconsistentShapes) {
  // GPTQ down_proj: qweight [512/8, 256], qzeros [8, 256/8], scales [8, 256], g_idx [512].
  expect_error(write_bad("gq_qweight", kGptq, [](auto& e) { reshape(e, kDown + ".qweight", 65, 256); }),
               {kDown + ".qweight", "[65, 256]", "needs [64, 256]"});
  expect_error(write_bad("gq_qzeros", kGptq, [](auto& e) { reshape(e, kDown + ".qzeros", 8, 33); }),
               {kDown + ".qzeros", "[8, 33]", "needs [8, 32]"});
  expect_error(write_bad("gq_scales", kGptq, [](auto& e) { reshape(e, kDown + ".scales", 4, 256); }),
               {kDown + ".scales", "[4, 256]", "needs [8, 256]"});
  expect_error(write_bad("gq_gidx", kGptq,
                         [](auto& e) {
                           StEntry& g = entry(e, kDown + ".g_idx");
                           g.shape = {256};
                           g.data.resize(256 * 4);
                         }),
               {kDown + ".g_idx", "[256]", "needs [512]"});
  // AWQ down_proj: qweight [512, 256/8], qzeros [8, 32], scales [8, 256].
  expect_error(write_bad("awq_qweight", kAwq, [](auto& e) { reshape(e, kDown + ".qweight", 64, 256); }),
               {kDown + ".qweight", "[64, 256]", "needs [512, 32]"});
  expect_error(write_bad("awq_qzeros", kAwq, [](auto& e) { reshape(e, kDown + ".qzeros", 16, 32); }),
               {kDown + ".qzeros", "[16, 32]", "needs [8, 32]"});
  expect_error(write_bad("awq_scales", kAwq, [](auto& e) { reshape(e, kDown + ".scales", 8, 512); }),
               {kDown + ".scales", "[8, 512]", "needs [8, 256]"});
}

TEST(BadPackedFiles, WrongDtypeOrMissingPart) {
  expect_error(write_bad("scales_f32", kGptq,
                         [](auto& e) {
                           StEntry& s = entry(e, kDown + ".scales");
                           s.dtype = "F32";
                           s.data.resize(s.data.size() * 2);
                         }),
               {kDown + ".scales", "dtype F32", "expected F16"});
  expect_error(write_bad("no_qzeros", kAwq,
                         [](auto& e) {
                           e.erase(std::find_if(e.begin(), e.end(), [](const StEntry& x) {
                             return x.name == kDown + ".qzeros";
                           }));
                         }),
               {kDown + ".qzeros", "missing"});
  expect_error(write_bad("no_gidx", kGptq,
                         [](auto& e) {
                           e.erase(std::find_if(e.begin(), e.end(),
                                                [](const StEntry& x) { return x.name == kDown + ".g_idx"; }));
                         }),
               {"desc_act", kDown + ".g_idx", "missing"});
}

// A g_idx of the right shape that is no grouping (a group over-full) passes open() and is
// refused by porta's importer when the layer is loaded, as a LoadError naming the file.
TEST(BadPackedFiles, GidxNotAGrouping) {
  const std::string dir = write_bad("gidx_groups", kGptq, [](auto& e) {
    StEntry& g = entry(e, kDown + ".g_idx");
    const int32_t zero = 0;
    std::memcpy(g.data.data() + 4 * 100, &zero, 4);  // channel 100 moved to group 0
  });
  auto ck = porta_run::Checkpoint::open(dir);
  porta_run::PackedLinear p;
  ASSERT_TRUE(ck->find_packed(kDown + ".weight", &p));
  try {
    porta_run::import_packed(ck->packed_format(), p, 256, 512);
    ADD_FAILURE() << "a g_idx with an over-full group was imported";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("g_idx"), std::string::npos) << e.what();
  }
}

TEST(BadPackedFiles, UnsupportedVariantsRefusedByName) {
  auto config = [](const std::string& q) {
    return write_bad("cfg_" + std::to_string(std::hash<std::string>()(q)), kGptq, nullptr, q);
  };
  expect_error(config("{\"quant_method\":\"gptq\",\"bits\":8,\"group_size\":64,\"desc_act\":true}"),
               {"config.json", "bits 8", "4-bit"});
  expect_error(
      config("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":64,\"checkpoint_format\":\"marlin\"}"),
      {"checkpoint_format 'marlin'", "gptq and gptq_v2"});
  expect_error(config("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":64,\"version\":\"exllama\"}"),
               {"AWQ version 'exllama'", "gemm layout"});
  expect_error(config("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":64,\"version\":\"gemv\"}"),
               {"AWQ version 'gemv'"});
  expect_error(config("{\"quant_method\":\"awq\",\"w_bit\":3,\"q_group_size\":64,\"version\":\"gemm\"}"),
               {"AWQ with bits 3"});
  expect_error(config("{\"quant_method\":\"exl2\",\"bits\":4.5}"), {"quant_method 'exl2'", "gptq and awq"});
  expect_error(
      config("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":64,\"dynamic\":{\"-:.*down.*\":{}}}"),
      {"'dynamic'"});
}

}  // namespace
