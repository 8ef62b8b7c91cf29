// main() of the device tests: skip honestly (or fail, when expected) before running zero
// cases on a host without the targeted backend; see device_presence.h.
#include <gtest/gtest.h>

#include "support/device_presence.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!::testing::GTEST_FLAG(list_tests)) {
    const int rc = porta::test::check_device_presence();
    if (rc >= 0) return rc;
  }
  return RUN_ALL_TESTS();
}
