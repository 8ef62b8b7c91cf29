// PORTA_DEVICE grammar and matching (src/core/selection.h), on synthetic device lists.
#include <gtest/gtest.h>

#include "core/selection.h"
#include "porta/error.h"

namespace porta::detail {
namespace {

SelectionContext rack() {
  SelectionContext c;
  c.devices = {
      {"cuda", 0, DeviceType::discrete_gpu, false, "a1b2c3d4", "NVIDIA H20"},
      {"cuda", 1, DeviceType::discrete_gpu, false, "ffee0011", "NVIDIA A800"},
      {"vulkan", 0, DeviceType::discrete_gpu, false, "a1b2c3d4", "NVIDIA H20"},
      {"vulkan", 1, DeviceType::integrated_gpu, false, "", "MTT S80 iGPU"},
      {"vulkan", 2, DeviceType::cpu, true, "", "llvmpipe (LLVM 15.0.6, 256 bits)"},
      {"opencl", 0, DeviceType::cpu, true, "", "pthread-haswell-AMD EPYC"},
      {"cpu", 0, DeviceType::cpu, true, "", "AMD EPYC 7B13"},
  };
  c.known_backends = {"cuda", "hip", "vulkan", "opencl", "cpu"};
  return c;
}

SelectionContext cpu_and_software_only() {
  SelectionContext c;
  c.devices = {{"vulkan", 0, DeviceType::cpu, true, "", "llvmpipe"},
               {"opencl", 0, DeviceType::cpu, true, "", "pthread-haswell"},
               {"cpu", 0, DeviceType::cpu, true, "", "AMD EPYC"}};
  c.known_backends = {"cuda", "hip", "vulkan", "opencl", "cpu"};
  return c;
}

std::string pick(const std::string& spec, const SelectionContext& c) {
  const auto s = select_device(spec, c);
  return c.devices[s.position].backend + ":" + std::to_string(c.devices[s.position].index);
}

Errc error_of(const std::string& spec, const SelectionContext& c, std::string* msg = nullptr) {
  try {
    select_device(spec, c);
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  ADD_FAILURE() << "spec '" << spec << "' was accepted";
  return Errc::internal;
}

TEST(Selection, AutoPrefersDiscreteGpuInBackendOrder) {
  EXPECT_EQ(pick("auto", rack()), "cuda:0");
  EXPECT_EQ(pick("", rack()), "cuda:0");  // empty spec means auto
}

TEST(Selection, AutoSkipsSoftwareDevicesButFallsBackToCpuBackend) {
  EXPECT_EQ(pick("auto", cpu_and_software_only()), "cpu:0");
}

TEST(Selection, AutoPrefersIntegratedGpuOverCpu) {
  auto c = rack();
  c.devices.erase(c.devices.begin(), c.devices.begin() + 3);  // no discrete GPU left
  EXPECT_EQ(pick("auto", c), "vulkan:1");
}

TEST(Selection, NamingABackendCanPickItsSoftwareDevice) {
  EXPECT_EQ(pick("vulkan", cpu_and_software_only()), "vulkan:0");
  EXPECT_EQ(pick("opencl", cpu_and_software_only()), "opencl:0");
}

TEST(Selection, IndexTypeUuidAndNameSelectors) {
  const auto c = rack();
  EXPECT_EQ(pick("cuda:1", c), "cuda:1");
  EXPECT_EQ(pick("vulkan:2", c), "vulkan:2");
  EXPECT_EQ(pick("vulkan:igpu", c), "vulkan:1");
  EXPECT_EQ(pick("vulkan:cpu", c), "vulkan:2");
  EXPECT_EQ(pick("vulkan:gpu", c), "vulkan:0");
  EXPECT_EQ(pick("cuda:uuid=FFEE", c), "cuda:1");  // case-insensitive prefix
  EXPECT_EQ(pick("cuda:name=a800", c), "cuda:1");  // case-insensitive substring
  EXPECT_EQ(pick("vulkan:name=MTT", c), "vulkan:1");
}

TEST(Selection, FirstMatchingTermWins) {
  const auto c = cpu_and_software_only();
  EXPECT_EQ(pick("cuda:0,vulkan:name=MTT,opencl:cpu,cpu", c), "opencl:0");
  EXPECT_EQ(pick("cuda,cpu", c), "cpu:0");
  EXPECT_EQ(pick("hip,auto", c), "cpu:0");
}

TEST(Selection, NoMatchIsBackendUnavailableAndListsDevices) {
  std::string msg;
  EXPECT_EQ(error_of("cuda", cpu_and_software_only(), &msg), Errc::backend_unavailable);
  EXPECT_NE(msg.find("vulkan:0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cpu:0"), std::string::npos) << msg;
  EXPECT_NE(msg.find(",cpu"), std::string::npos) << "suggests the fallback: " << msg;
  EXPECT_EQ(error_of("cpu:3", rack()), Errc::backend_unavailable);
  EXPECT_EQ(error_of("cuda:uuid=00", rack()), Errc::backend_unavailable);
}

TEST(Selection, MalformedSpecsAreInvalidArgument) {
  for (const char* spec :
       {",", "cpu,", ",cpu", "cpu,,cpu", "cpu:", "cpu:-1", "cpu:+1", "cpu:0:1", "cpu:x",
        "cpu:uuid=", "cpu:uuid=xyz", "cpu:name=", "CPU", "c pu", "cpu ", "nonsense", "cuda:gpu0", "auto:0"}) {
    std::string msg;
    EXPECT_EQ(error_of(spec, rack(), &msg), Errc::invalid_argument) << spec;
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << "lists devices for '" << spec << "': " << msg;
  }
}

TEST(Selection, ATypoLateInTheListIsStillAnError) {
  // Strict parsing: a valid first term does not hide a broken later one.
  EXPECT_EQ(error_of("cpu,vulkan:", rack()), Errc::invalid_argument);
}

// One PORTA_DEVICE for a whole fleet: 'musa' is a vendor module only some hosts have.
TEST(Selection, UnknownBackendFallsThroughWhenALaterTermExists) {
  const auto c = cpu_and_software_only();
  const auto s = select_device("musa,cpu", c);
  EXPECT_EQ(c.devices[s.position].backend, "cpu");
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("'musa' passed over"), std::string::npos) << s.notes[0];
  EXPECT_EQ(s.notes[0].find("did you mean"), std::string::npos)
      << "musa is not a typo of cuda: " << s.notes[0];
  EXPECT_EQ(pick("musa:0,mlu:gpu,opencl", c), "opencl:0");  // selectors of unknown backends are fine
  EXPECT_EQ(pick("musa,auto", c), "cpu:0");
  // The same spec on a host that has the module picks it.
  auto with_musa = c;
  with_musa.known_backends.push_back("musa");
  with_musa.devices.insert(with_musa.devices.begin(),
                           {"musa", 0, DeviceType::discrete_gpu, false, "", "MTT S4000"});
  const auto m = select_device("musa,cpu", with_musa);
  EXPECT_EQ(with_musa.devices[m.position].backend, "musa");
  EXPECT_TRUE(m.notes.empty());
}

TEST(Selection, CloseUnknownNameSaysDidYouMean) {
  const auto s = select_device("vulcan,cpu", cpu_and_software_only());
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("did you mean 'vulkan'?"), std::string::npos) << s.notes[0];
  EXPECT_EQ(closest_name("cdua", {"cuda", "hip", "vulkan", "opencl", "cpu"}), "cuda");  // swapped letters
  EXPECT_EQ(closest_name("openlc", {"cuda", "hip", "vulkan", "opencl", "cpu"}), "opencl");
  EXPECT_EQ(closest_name("cpux", {"cuda", "hip", "vulkan", "opencl", "cpu"}), "cpu");
  EXPECT_EQ(closest_name("musa", {"cuda", "hip", "vulkan", "opencl", "cpu"}), "");
  EXPECT_EQ(closest_name("x", {"cuda", "hip", "vulkan", "opencl", "cpu"}), "");
  EXPECT_EQ(closest_name(std::string(200, 'c'), {"cuda", "cpu"}), "");
}

TEST(Selection, UnknownLastTermIsAnErrorNamingTheKnownBackends) {
  std::string msg;
  EXPECT_EQ(error_of("cpu,musa", rack(), &msg), Errc::invalid_argument);
  EXPECT_NE(msg.find("unknown backend 'musa' in the last term"), std::string::npos) << msg;
  EXPECT_NE(msg.find("known here: cuda, hip, vulkan, opencl, cpu"), std::string::npos) << msg;
  EXPECT_EQ(error_of("vulkn", rack(), &msg), Errc::invalid_argument);
  EXPECT_NE(msg.find("did you mean 'vulkan'?"), std::string::npos) << msg;
}

TEST(Selection, UnknownTermsAreStillParsedStrictly) {
  EXPECT_EQ(error_of("musa:,cpu", rack()), Errc::invalid_argument);
  EXPECT_EQ(error_of("musa:x,cpu", rack()), Errc::invalid_argument);
  EXPECT_EQ(error_of("MUSA,cpu", rack()), Errc::invalid_argument);
  std::string msg;  // nothing matches: the passed-over term is in the message
  EXPECT_EQ(error_of("musa,cuda", cpu_and_software_only(), &msg), Errc::backend_unavailable);
  EXPECT_NE(msg.find("'musa' passed over"), std::string::npos) << msg;
}

TEST(Selection, LoadErrorsAppearInTheListing) {
  auto c = cpu_and_software_only();
  c.load_errors["cuda"] = "module libporta_backend_cuda.so failed to load: libcuda.so.1: not found";
  std::string msg;
  EXPECT_EQ(error_of("cuda", c, &msg), Errc::backend_unavailable);
  EXPECT_NE(msg.find("libcuda.so.1"), std::string::npos) << msg;
}

}  // namespace
}  // namespace porta::detail
