// Says which devices the suite covers, and why it covers none (an instantiation with no
// devices runs no test, which would otherwise pass silently).
#include "support/harness.h"

namespace porta::test {
namespace {

TEST(Devices, UnderTest) {
  const auto devs = test_devices();
  if (devs.empty()) {
    std::string why;
    for (const auto& line : backend_diagnostics()) why += "\n  " + line;
    if (why.empty())
      why =
          " none (the backend was not built, or its module was not found beside libporta "
          "or in PORTA_PLUGIN_PATH; porta-info lists what loaded)";
    const char* filter = std::getenv("PORTA_TEST_DEVICES");
    GTEST_SKIP() << "no device matches PORTA_TEST_DEVICES='" << (filter ? filter : "")
                 << "'; backend notes:" << why;
  }
  for (const auto& d : devs) std::printf("testing %s\n", d.description().c_str());
}

}  // namespace
}  // namespace porta::test
