// Runs the collective tests on every rank of an mpirun launch (CTest starts it through
// mpirun; see tests/comm/CMakeLists.txt). Every rank runs the same tests in the same order,
// so their collectives pair up; a rank that strays makes the others fail at the deadline
// (PORTA_COMM_TIMEOUT_S) instead of hanging.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <memory>

#include "comm_env.h"

namespace commtest {
namespace {
std::unique_ptr<porta::Communicator> g_world;
std::unique_ptr<porta::Stream> g_stream;
}  // namespace
porta::Communicator& world() { return *g_world; }
porta::Stream& stream() { return *g_stream; }
}  // namespace commtest

int main(int argc, char** argv) {
  // One full report (rank 0); the other ranks print only failures. The launcher's rank
  // variable is read because MPI is not initialised yet (porta does that below).
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK"}) {
    const char* r = std::getenv(var);
    if (r && std::string(r) != "0") testing::GTEST_FLAG(brief) = true;
  }
  testing::InitGoogleTest(&argc, argv);
  try {
    const porta::Device dev = porta::Device::select();
    commtest::g_world = std::make_unique<porta::Communicator>(porta::Communicator::from_mpi(dev));
    commtest::g_stream = std::make_unique<porta::Stream>(dev);
    const auto& w = *commtest::g_world;
    if (w.rank() == 0)
      std::printf("porta comm tests: %d ranks on %s, transport %s\n", w.size(), dev.description().c_str(),
                  w.transport().c_str());
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "comm tests: cannot make the communicator: %s\n", e.what());
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  commtest::g_stream.reset();
  commtest::g_world.reset();
  return rc;
}
