// Bad checkpoints: every one raises porta_run::LoadError naming the file and the tensor or
// key and what was expected; none crashes. Truncations at every 97th byte of a whole GGUF
// and safetensors file, wrong magic / version, an unknown tensor type, a shape that
// disagrees with the config, a missing shard, offsets past the end, unsupported architecture.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

#include "checkpoint.h"
#include "gguf.h"
#include "load_error.h"
#include "safetensors.h"
#include "tiny_model.h"

namespace {

using namespace porta_run_test;
using porta_run::LoadError;

std::string temp_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "porta_run_bad_" + name + "_" + std::to_string(::getpid());
  ::mkdir(d.c_str(), 0755);
  return d;
}

std::vector<uint8_t> read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Expects open() to throw LoadError whose message holds every fragment.
void expect_load_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    porta_run::Checkpoint::open(path);
    ADD_FAILURE() << path << ": no error, expected one mentioning '" << fragments.front() << "'";
  } catch (const LoadError& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "message: " << e.what() << "\nmissing: " << f;
  }
}

// Offset of the first byte after tensor `name`'s name in a GGUF directory.
size_t after_name(const std::vector<uint8_t>& b, const std::string& name) {
  const auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
  EXPECT_NE(it, b.end());
  return static_cast<size_t>(it - b.begin()) + name.size();
}

class BadFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TinySpec s;
    s.layers = 1;
    model_ = new TinyModel(make_tiny(s, 7));
    dir_ = temp_dir("base");
    write_gguf(*model_, dir_ + "/m.gguf", FileType::f32);
    write_safetensors(*model_, dir_, FileType::bf16, 2);
    gguf_ = read_all(dir_ + "/m.gguf");
  }
  static void TearDownTestSuite() { delete model_; }
  static TinyModel* model_;
  static std::string dir_;
  static std::vector<uint8_t> gguf_;
};
TinyModel* BadFiles::model_ = nullptr;
std::string BadFiles::dir_;
std::vector<uint8_t> BadFiles::gguf_;

TEST_F(BadFiles, GoodFilesLoad) {
  EXPECT_NO_THROW(porta_run::Checkpoint::open(dir_ + "/m.gguf"));
  EXPECT_NO_THROW(porta_run::Checkpoint::open(dir_));
}

// Every cut in the metadata and directory (each 7th byte of the first 12 KiB) and 64 cuts
// through the tensor data, parsed in memory; and a few through the file path.
TEST_F(BadFiles, GgufTruncatedAnywhere) {
  std::vector<size_t> cuts;
  for (size_t n = 0; n < std::min<size_t>(gguf_.size(), 12288); n += 7) cuts.push_back(n);
  for (size_t k = 1; k < 64; ++k) cuts.push_back(gguf_.size() * k / 64);
  for (size_t n : cuts) {
    try {
      porta_run::GgufFile f(gguf_.data(), n, "cut.gguf");
      // A cut inside the tensor data must be caught too: every tensor is checked to fit.
      ADD_FAILURE() << "truncated to " << n << " bytes of " << gguf_.size() << " parsed";
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.gguf"), std::string::npos) << e.what();
    }
  }
  const std::string p = temp_dir("trunc") + "/t.gguf";
  for (size_t n : {size_t{0}, size_t{3}, size_t{100}, gguf_.size() - 1}) {
    write_all(p, std::vector<uint8_t>(gguf_.begin(), gguf_.begin() + static_cast<std::ptrdiff_t>(n)));
    expect_load_error(p, {p});
  }
}

TEST_F(BadFiles, GgufWrongMagicAndVersion) {
  const std::string d = temp_dir("magic");
  auto b = gguf_;
  b[0] = 'X';
  write_all(d + "/a.gguf", b);
  expect_load_error(d + "/a.gguf", {d + "/a.gguf", "not a GGUF file"});
  b = gguf_;
  b[4] = 1;  // version 1 used 32-bit counts: refused
  write_all(d + "/b.gguf", b);
  expect_load_error(d + "/b.gguf", {"GGUF version 1", "versions 2 and 3"});
}

TEST_F(BadFiles, GgufUnknownTensorType) {
  auto b = gguf_;
  const std::string name = "blk.0.ffn_down.weight";
  const size_t at = after_name(b, name) + 4 + 2 * 8;  // n_dims, two dims, then the type
  const uint32_t q5k = 13;
  std::memcpy(&b[at], &q5k, 4);
  const std::string p = temp_dir("type") + "/m.gguf";
  write_all(p, b);
  expect_load_error(p, {name, "Q5_K", "does not read"});
}

TEST_F(BadFiles, GgufOffsetPastTheEnd) {
  auto b = gguf_;
  const std::string name = "blk.0.ffn_up.weight";
  const size_t at = after_name(b, name) + 4 + 2 * 8 + 4;
  const uint64_t off = uint64_t{1} << 40;
  std::memcpy(&b[at], &off, 8);
  const std::string p = temp_dir("offset") + "/m.gguf";
  write_all(p, b);
  expect_load_error(p, {name, "runs past the end of the file"});
}

TEST_F(BadFiles, GgufHugeCountsAndLengths) {
  auto b = gguf_;
  const uint64_t huge = ~uint64_t{0} / 2;
  std::memcpy(&b[8], &huge, 8);  // tensor count
  const std::string d = temp_dir("huge");
  write_all(d + "/a.gguf", b);
  expect_load_error(d + "/a.gguf", {"tensor count", "exceeds the file"});
  b = gguf_;
  std::memcpy(&b[24], &huge, 8);  // length of the first key string
  write_all(d + "/b.gguf", b);
  expect_load_error(d + "/b.gguf", {"truncated file", "metadata key"});
}

TEST_F(BadFiles, ShapeDisagreesWithConfig) {
  TinySpec s;
  s.layers = 1;
  TinyModel m = make_tiny(s, 7);
  m.shapes["model.layers.0.mlp.down_proj.weight"] = {256, 256};  // config says ffn 512
  m.weights["model.layers.0.mlp.down_proj.weight"].resize(256 * 256);
  const std::string d = temp_dir("shape");
  write_gguf(m, d + "/m.gguf", FileType::f32);
  expect_load_error(d + "/m.gguf", {"blk.0.ffn_down.weight", "[256, 256]", "needs [256, 512]"});
  write_safetensors(m, d, FileType::f32);
  expect_load_error(d, {"model.layers.0.mlp.down_proj.weight", "[256, 256]", "needs [256, 512]"});
}

TEST_F(BadFiles, UnsupportedArchitecture) {
  TinySpec s;
  s.layers = 1;
  s.arch = "gemma";
  const TinyModel m = make_tiny(s, 7);
  const std::string d = temp_dir("arch");
  write_safetensors(m, d, FileType::f32);
  expect_load_error(d, {"config.json", "model_type 'gemma' is not supported"});
}

TEST_F(BadFiles, SafetensorsMissingShard) {
  const std::string d = temp_dir("shard");
  write_safetensors(*model_, d, FileType::bf16, 2);
  std::remove((d + "/model-00002-of-00002.safetensors").c_str());
  expect_load_error(d, {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors' is missing"});
}

TEST_F(BadFiles, SafetensorsTruncatedAnywhere) {
  const auto b = read_all(dir_ + "/model-00001-of-00002.safetensors");
  const std::string d = temp_dir("sttrunc");
  int errors = 0;
  for (size_t n = 0; n + 1 < b.size(); n += 97) {
    std::map<std::string, porta_run::TensorData> out;
    try {
      porta_run::parse_safetensors(b.data(), n, "cut.safetensors", out);
      ADD_FAILURE() << "truncated to " << n << " bytes parsed";
    } catch (const LoadError& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("cut.safetensors"), std::string::npos);
    }
  }
  EXPECT_GT(errors, 10);
}

TEST_F(BadFiles, SafetensorsBadHeaders) {
  auto parse = [](const std::string& header, uint64_t data_bytes) {
    std::vector<uint8_t> b(8);
    const uint64_t n = header.size();
    std::memcpy(b.data(), &n, 8);
    b.insert(b.end(), header.begin(), header.end());
    b.resize(b.size() + data_bytes);
    std::map<std::string, porta_run::TensorData> out;
    porta_run::parse_safetensors(b.data(), b.size(), "h.safetensors", out);
  };
  auto expect = [&](const std::string& header, uint64_t data, const std::string& frag) {
    try {
      parse(header, data);
      ADD_FAILURE() << header << ": no error";
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
    }
  };
  expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, "lie outside the data section");
  expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16, "takes 24 bytes");
  expect("{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, "dtype I64");
  expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 16, "non-negative");
  expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627777],\"data_offsets\":[0,8]}}", 16, "below 2^40");
  expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627775,1099511627775],\"data_offsets\":[0,8]}}", 16, "overflows");
  expect("{\"w\": [", 0, "not valid JSON");
  expect("[1,2]", 0, "not a JSON object");
  expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 16, "lie outside");
}

}  // namespace
