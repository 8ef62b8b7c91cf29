// The tuning tables as data (core/tuning_table.h): the lookup's most-specific-wins rule, the rows
// the Vulkan and OpenCL tables give representative devices (pinned: a table edit that changes what
// lavapipe, PoCL or a GPU class runs shows up here), and the rows' text form.
#include <gtest/gtest.h>

#include <string>

#include "backends/opencl/tuning.h"
#include "backends/vulkan/tuning.h"
#include "core/tuning_table.h"

namespace {

using porta::Errc;
using porta::Error;
namespace tn = porta::tuning;

template <class F>
void expect_error(F&& f, Errc code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

struct P {
  int v = -1;
};

TEST(TuningTable, MostSpecificRowWinsWhateverTheOrder) {
  // The default first and the name row last: order does not decide, specificity does.
  const tn::Row<P> table[] = {
      {"default", nullptr, nullptr, nullptr, {0}}, {"vendor", "v", nullptr, nullptr, {1}},
      {"class", nullptr, "c", nullptr, {2}},       {"vendor+class", "v", "c", nullptr, {3}},
      {"name", nullptr, nullptr, "X", {4}},
  };
  auto pick = [&](const char* v, const char* c, const char* n) {
    return std::string(tn::select_row(table, tn::DeviceKey{v, c, n}).id);
  };
  EXPECT_EQ(pick("v", "c", "X"), "name");
  EXPECT_EQ(pick("w", "d", "X"), "name");
  EXPECT_EQ(pick("v", "c", "Y"), "vendor+class");
  EXPECT_EQ(pick("w", "c", "Y"), "class");
  EXPECT_EQ(pick("v", "d", "Y"), "vendor");
  EXPECT_EQ(pick("w", "d", "Y"), "default");
  EXPECT_EQ(pick("", "", ""), "default");
  ASSERT_NE(tn::find_row(table, "class"), nullptr);
  EXPECT_EQ(tn::find_row(table, "class")->params.v, 2);
  EXPECT_EQ(tn::find_row(table, "nope"), nullptr);
}

TEST(TuningTable, TableWithoutDefaultRowIsAnInternalError) {
  const tn::Row<P> table[] = {{"vendor", "v", nullptr, nullptr, {1}}};
  EXPECT_EQ(tn::select_row(table, tn::DeviceKey{"v", "c", "n"}).params.v, 1);
  expect_error(
      [&] {
        tn::select_row(table, tn::DeviceKey{"w", "c", "n"});
      },
      Errc::internal, "no default row");
}

template <class Params, size_t R, size_t N>
void check_tables(const tn::Row<Params> (&rows)[R], const tn::Field<Params> (&fields)[N]) {
  int defaults = 0;
  for (const auto& r : rows) {
    defaults += !r.vendor && !r.cls && !r.name;
    EXPECT_EQ(tn::find_row(rows, r.id), &r) << "duplicate row id " << r.id;
    // Round trip of the real rows, parsed over a default-constructed row.
    const std::string text = tn::to_text(r.params, fields);
    const Params back = tn::from_text(text, fields, Params{}, "test");
    EXPECT_EQ(tn::to_text(back, fields), text);
    for (const auto& f : fields) EXPECT_EQ(f.get(back), f.get(r.params)) << r.id << " " << f.name;
  }
  EXPECT_EQ(defaults, 1);
  EXPECT_TRUE(!rows[R - 1].vendor && !rows[R - 1].cls && !rows[R - 1].name) << "the default row comes last";
  // Every field set to its own value: each name reaches its own member (no two fields alias one).
  auto value = [&](size_t i) {
    return fields[i].max - static_cast<int64_t>(i) % (fields[i].max - fields[i].min + 1);
  };
  std::string text;
  for (size_t i = 0; i < N; ++i) text += std::string(fields[i].name) + "=" + std::to_string(value(i)) + " ";
  const Params p = tn::from_text(text, fields, Params{}, "test");
  for (size_t i = 0; i < N; ++i) EXPECT_EQ(fields[i].get(p), value(i)) << fields[i].name;
  const std::string first = fields[0].name;
  expect_error([&] { tn::from_text("bogus=1", fields, Params{}, "cache row"); }, Errc::invalid_argument,
               "cache row: 'bogus=1' names no field");
  expect_error([&] { tn::from_text(first, fields, Params{}, "r"); }, Errc::invalid_argument, "has no '='");
  expect_error([&] { tn::from_text(first + "=4x", fields, Params{}, "r"); }, Errc::invalid_argument,
               "not an integer");
  expect_error([&] { tn::from_text(first + "=", fields, Params{}, "r"); }, Errc::invalid_argument,
               "not an integer");
  expect_error([&] { tn::from_text(first + "=" + std::to_string(fields[0].max + 1), fields, Params{}, "r"); },
               Errc::invalid_argument, "out of range");
  expect_error([&] { tn::from_text(first + "=1 " + first + "=1", fields, Params{}, "r"); },
               Errc::invalid_argument, "a second time");
}

TEST(TuningTable, VulkanRowsRoundTripThroughText) {
  check_tables(porta::vk::kTuningTable, porta::vk::kTuningFields);
}
TEST(TuningTable, OpenClRowsRoundTripThroughText) {
  check_tables(porta::opencl::kTuningTable, porta::opencl::kTuningFields);
}

// --- Vulkan: the rows devices get (values as the launchers read them) ---

std::string gemm(const porta::vk::Tuning& t) {
  const auto& g = t.gemm;
  return std::to_string(g.wg_x) + "," + std::to_string(g.wg_y) + "," + std::to_string(g.thread_m) + "," +
         std::to_string(g.thread_n) + "," + std::to_string(g.block_k) + "," + std::to_string(g.use_shared);
}

TEST(TuningTable, VulkanLavapipeTakesTheCpuRow) {
  using namespace porta::vk;
  const Tuning t = tuning_for(device_key(0x10005, true, "llvmpipe (LLVM 15.0.6, 256 bits)"), 32768, 1024);
  EXPECT_EQ(t.row, "cpu");
  EXPECT_EQ(gemm(t), "8,8,8,8,8,0");
  EXPECT_EQ(t.small_m_max, 16u);
  EXPECT_EQ(t.splitk_min_k, 2048u);
  EXPECT_EQ(t.splitk_max_tiles, 0u);
  EXPECT_EQ(t.attn_decode_chunk, 256u);
  EXPECT_EQ(t.quant.gemv_split, 8u);
  EXPECT_EQ(t.quant.gemv_unit, 128u);
  EXPECT_EQ(t.quant.block_bytes, 32u << 20);
  EXPECT_EQ(t.attn_decode.lanes, 8u);
  EXPECT_EQ(t.attn_decode.chunk, 256u);
  EXPECT_EQ(t.attn_decode.min_groups, 32u);
  EXPECT_EQ(t.attn_decode.max_rows, 16u);
  EXPECT_EQ(t.attn_decode.max_tile, 64u);
  // A CPU device of any vendor: the class outranks the vendor row.
  EXPECT_EQ(tuning_for(device_key(0x10de, true, "x"), 32768, 1024).row, "cpu");
}

TEST(TuningTable, VulkanGpuRowsByVendor) {
  using namespace porta::vk;
  const Tuning nv = tuning_for(device_key(0x10de, false, "NVIDIA H100 PCIe"), 49152, 1024);
  EXPECT_EQ(nv.row, "nvidia");
  EXPECT_EQ(gemm(nv), "16,16,8,8,16,1");
  EXPECT_EQ(nv.splitk_max_tiles, 32u);
  EXPECT_EQ(nv.quant.gemv_split, 16u);
  EXPECT_EQ(nv.quant.gemv_unit, 32u);
  EXPECT_EQ(nv.attn_decode.lanes, 0u);  // grouped split-KV attention off on GPU rows
  const Tuning amd = tuning_for(device_key(0x1002, false, "AMD Radeon RX 7900 XTX"), 65536, 1024);
  EXPECT_EQ(amd.row, "amd");
  EXPECT_EQ(gemm(amd), "16,16,8,8,16,1");
  for (uint32_t vendor : {0x1ed5u, 0x8086u, 0x13b5u}) {
    const Tuning d = tuning_for(device_key(vendor, false, "some gpu"), 65536, 1024);
    EXPECT_EQ(d.row, "default");
    EXPECT_EQ(gemm(d), "16,16,4,4,16,1");
    EXPECT_EQ(d.splitk_min_k, 2048u);
  }
}

TEST(TuningTable, VulkanRowsFitTheDeviceLimits) {
  using namespace porta::vk;
  const auto key = device_key(0x10de, false, "small gpu");
  EXPECT_EQ(gemm(tuning_for(key, 16384, 1024)), "16,16,8,8,16,1");  // (128 + 128) x 16 x 4 B fits exactly
  EXPECT_EQ(gemm(tuning_for(key, 16383, 1024)), "16,16,4,4,16,1");
  EXPECT_EQ(gemm(tuning_for(key, 65536, 128)), "16,8,8,8,16,1");
}

TEST(TuningTable, VulkanRowOverrideByName) {
  using namespace porta::vk;
  const auto lavapipe = device_key(0x10005, true, "llvmpipe");
  EXPECT_EQ(tuning_for(lavapipe, 32768, 1024, "default").row, "default");
  EXPECT_EQ(gemm(tuning_for(lavapipe, 32768, 1024, "nvidia")), "16,16,8,8,16,1");
  EXPECT_EQ(tuning_for(device_key(0x10de, false, "x"), 32768, 1024, "cpu").row, "cpu");
  EXPECT_EQ(tuning_for(lavapipe, 32768, 1024, "").row, "cpu");
  expect_error([&] { check_tuning_setting("fast"); }, Errc::invalid_argument,
               "PORTA_VULKAN_TUNING='fast' is not one of auto, cpu, nvidia, amd, default");
  expect_error([&] { tuning_for(lavapipe, 32768, 1024, "fast"); }, Errc::invalid_argument, "'fast'");
}

TEST(TuningTable, VulkanFieldOverridesApplyOverTheDevicesRow) {
  using namespace porta::vk;
  const auto lavapipe = device_key(0x10005, true, "llvmpipe");
  const Tuning base = tuning_for(lavapipe, 32768, 1024);
  const Tuning t = tuning_for(lavapipe, 32768, 1024, "quant.gemv_cols=2  attn_decode.min_groups=8");
  EXPECT_EQ(t.row, "cpu + PORTA_VULKAN_TUNING 'quant.gemv_cols=2  attn_decode.min_groups=8'");
  EXPECT_EQ(t.quant.gemv_cols, 2u);
  EXPECT_EQ(t.attn_decode.min_groups, 8u);
  // Fields not named keep the device's row: the text forms differ in exactly those two items.
  TuningParams expect = base;
  expect.quant.gemv_cols = 2;
  expect.attn_decode.min_groups = 8;
  EXPECT_EQ(tuning_text(t), tuning_text(expect));
  // The text form of a row reads back as the same row (every field has a name and a range).
  const Tuning nv = tuning_for(device_key(0x10de, false, "NVIDIA H100 PCIe"), 49152, 1024);
  EXPECT_EQ(tuning_text(tuning_for(lavapipe, 1 << 20, 1024, tuning_text(nv))), tuning_text(nv));
  // GPU rows' shared tiles are still fitted to the device after an override.
  EXPECT_EQ(gemm(tuning_for(device_key(0x10de, false, "x"), 16383, 1024, "gemm.block_k=16")),
            "16,16,4,4,16,1");
}

TEST(TuningTable, VulkanBadFieldOverridesNameTheVariableAndTheFix) {
  using namespace porta::vk;
  for (const char* bad : {"quant.gemv_cols=5", "quant.gemv_cols", "gemm.tile=4", "gemm.wg_x=8 gemm.wg_x=16",
                          "small_m_max=33", "quant.gemv_split=24", "quant.gemv_unit=48", "gemm.block_k=x"}) {
    SCOPED_TRACE(bad);
    expect_error([&] { check_tuning_setting(bad); }, Errc::invalid_argument, "PORTA_VULKAN_TUNING");
    expect_error([&] { tuning_for(device_key(0x10005, true, "llvmpipe"), 32768, 1024, bad); },
                 Errc::invalid_argument, "PORTA_VULKAN_TUNING");
  }
  expect_error([&] { check_tuning_setting("quant.gemv_split=24"); }, Errc::invalid_argument,
               "must be a power of two");
  expect_error([&] { check_tuning_setting("gemm.tile=4"); }, Errc::invalid_argument, "gemm.wg_x");
  EXPECT_NO_THROW(check_tuning_setting("quant.gemv_split=8 quant.gemv_unit=64 small_m_max=32"));
}

// --- OpenCL ---

std::string gemm(const porta::opencl::DeviceTuning& t) {
  const auto& g = t.gemm;
  return std::to_string(g.tile_m) + "," + std::to_string(g.vec_n) + "," + std::to_string(g.vecs_n) + "," +
         std::to_string(g.wg_m) + "," + std::to_string(g.wg_n) + "," + std::to_string(g.k_block) + "," +
         std::to_string(g.small_m_max) + "," + std::to_string(g.small_m_rows) + "," +
         std::to_string(g.small_m_vec);
}

std::string attention(const porta::opencl::DeviceTuning& t) {
  const auto& a = t.attention;
  return std::to_string(a.prefill_rows) + "," + std::to_string(a.prefill_wg) + "," +
         std::to_string(a.prefill_keys) + "," + std::to_string(a.fixed_head_dim) + "," +
         std::to_string(a.decode_max_rows) + "," + std::to_string(a.decode_vec) + "," +
         std::to_string(a.decode_wg) + "," + std::to_string(a.decode_min_chunk) + "," +
         std::to_string(a.decode_items);
}

std::string quant(const porta::opencl::DeviceTuning& t) {
  const auto& q = t.quant;
  return std::to_string(q.gemv_split) + "," + std::to_string(q.gemv_local) + "," +
         std::to_string(q.gemv_unit) + "," + std::to_string(q.gemv_vec) + "," +
         std::to_string(q.block_bytes >> 20);
}

TEST(TuningTable, OpenClPoclAvx2) {
  using namespace porta::opencl;
  const DeviceTuning t = tuning_for(true, 2, 8, "The pocl project", "cpu-haswell-AMD EPYC 7B13");
  EXPECT_STREQ(t.row_id, "cpu-vec8");
  EXPECT_EQ(t.cls, DeviceClass::cpu);
  EXPECT_EQ(gemm(t), "6,8,2,1,1,0,8,4,8");
  EXPECT_EQ(t.row.wg, 1);
  EXPECT_EQ(quant(t), "1,8,128,8,32");
  EXPECT_EQ(attention(t), "8,1,16,0,16,8,1,256,8");  // decode items: max(8, 4 x 2 units)
  EXPECT_EQ(t.attention.decode_grouped, 1);          // attention_decode_grouped, spans of 256 keys
  EXPECT_EQ(t.attention.decode_span, 256);
  EXPECT_EQ(t.attention.decode_prefetch, 8);
  EXPECT_EQ(t.attention.decode_prefetch_l2, 1);  // V / next K rows into L2 a pass ahead
  EXPECT_EQ(t.memory.huge_host_min, 2 << 20);    // buffers from 2 MiB on huge pages
  EXPECT_EQ(tuning_for(true, 1, 4, "Intel(R) Corporation", "x").attention.decode_items, 8);
  EXPECT_STREQ(tuning_for(true, 1, 4, "Intel(R) Corporation", "x").row_id, "cpu-vec8");
}

TEST(TuningTable, OpenClPoclAvx512) {
  using namespace porta::opencl;
  const DeviceTuning t = tuning_for(true, 16, 16, "Portable Computing Language", "cpu-skylake-avx512");
  EXPECT_STREQ(t.row_id, "cpu-vec16");
  EXPECT_EQ(gemm(t), "8,16,2,1,1,0,8,4,16");
  EXPECT_EQ(quant(t), "1,8,128,16,32");
  EXPECT_EQ(attention(t), "16,1,16,0,16,16,1,256,64");  // max(8, 4 x 16 units)
  EXPECT_EQ(t.attention.decode_grouped, 1);
  EXPECT_EQ(t.attention.decode_span, 256);
}

TEST(TuningTable, OpenClGpuClass) {
  using namespace porta::opencl;
  const DeviceTuning t = tuning_for(false, 80, 1, "NVIDIA Corporation", "NVIDIA A100-SXM4-40GB");
  EXPECT_STREQ(t.row_id, "gpu");
  EXPECT_EQ(t.cls, DeviceClass::gpu);
  EXPECT_EQ(gemm(t), "4,4,1,16,16,0,8,1,4");
  EXPECT_EQ(t.row.wg, 128);
  EXPECT_EQ(quant(t), "64,64,32,8,64");
  EXPECT_EQ(attention(t), "1,64,32,1,16,4,64,128,20480");  // decode items: max(4096, 256 x 80)
  EXPECT_EQ(t.memory.huge_host_min, 0);                    // the driver's buffers
  // PORTA_OPENCL_DEVICE_CLASS=gpu on PoCL: the GPU row with the floor of 4096 items.
  const DeviceTuning g = tuning_for(false, 2, 8, "The pocl project", "cpu");
  EXPECT_STREQ(g.row_id, "gpu");
  EXPECT_EQ(attention(g), "1,64,32,1,16,4,64,128,4096");
  EXPECT_EQ(t.attention.decode_grouped, 0);  // GPU rows keep attention_decode
  EXPECT_EQ(g.attention.decode_grouped, 0);
  EXPECT_EQ(g.attention.decode_prefetch_l2, 0);
  EXPECT_EQ(device_key("Advanced Micro Devices, Inc.", false, 1, "gfx1100").vendor, "amd");
  EXPECT_EQ(device_key("The pocl project", true, 16, "x").cls, "cpu-vec16");
}

}  // namespace
