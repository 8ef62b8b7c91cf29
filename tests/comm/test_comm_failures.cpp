// Bad calls are refused with the op, shapes and fix named, and the communicator stays
// usable; PORTA_COMM_CHECK finds ranks that disagree; a rank that leaves makes the others
// fail within PORTA_COMM_TIMEOUT_S instead of hanging.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "comm_env.h"

namespace {

using commtest::stream;
using commtest::world;
using porta::DType;
using porta::Errc;
using porta::Tensor;

template <typename Fn>
void expect_error(Errc code, const std::string& needle, Fn&& fn) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected " << porta::to_string(code) << " mentioning '" << needle << "'";
  } catch (const porta::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::string(v) == value;
}

void expect_usable() {
  const float v = 1.0f;
  Tensor t = Tensor::from_host(stream(), DType::f32, {1}, &v);
  world().all_reduce(stream(), t, t);
  float got = 0;
  t.copy_to_host(stream(), &got);
  EXPECT_EQ(got, static_cast<float>(world().size()));
}

TEST(CommErrors, LocalValidation) {
  const auto& dev = world().device();
  Tensor a = Tensor::empty(dev, DType::f32, {8, 4});
  Tensor h = Tensor::empty(dev, DType::f16, {8, 4});
  const int n = world().size();
  expect_error(Errc::invalid_argument, "not contiguous", [&] { world().all_reduce(stream(), a.transpose(0, 1), a); });
  expect_error(Errc::dtype_mismatch, "one dtype", [&] { world().all_reduce(stream(), a, h); });
  expect_error(Errc::shape_mismatch, "element count",
               [&] { world().all_reduce(stream(), a, Tensor::empty(dev, DType::f32, {7})); });
  expect_error(Errc::invalid_argument, "overlap partially",
               [&] { world().all_reduce(stream(), a.slice(0, 0, 4), a.slice(0, 2, 6)); });
  if (dev.info().supports(DType::i8)) {
    Tensor b = Tensor::empty(dev, DType::i8, {4});
    expect_error(Errc::dtype_mismatch, "cannot reduce i8", [&] { world().all_reduce(stream(), b, b); });
  }
  expect_error(Errc::shape_mismatch, "must hold size",
               [&] { world().all_gather(stream(), a, Tensor::empty(dev, DType::f32, {32 * n + 1})); });
  expect_error(Errc::shape_mismatch, "must hold size",
               [&] { world().reduce_scatter(stream(), Tensor::empty(dev, DType::f32, {32 * n + 1}), a); });
  expect_error(Errc::invalid_argument, "root " + std::to_string(n), [&] { world().broadcast(stream(), a, a, n); });
  expect_error(Errc::invalid_argument, "peer " + std::to_string(world().rank()),
               [&] { world().send(stream(), a, world().rank()); });
  expect_error(Errc::invalid_argument, "peer -1", [&] { world().recv(stream(), a, -1); });
  porta::Communicator empty;
  expect_error(Errc::invalid_argument, "handle is empty", [&] { empty.all_reduce(stream(), a, a); });
  expect_usable();
}

TEST(CommErrors, CheckFindsMismatchedCalls) {
  if (!env_is("PORTA_COMM_CHECK", "1")) GTEST_SKIP() << "runs with PORTA_COMM_CHECK=1 (its own CTest entry)";
  const auto& dev = world().device();
  // Rank 0 reduces 7 elements, the others 8: every rank must get the same error.
  Tensor t = Tensor::empty(dev, DType::f32, {world().rank() == 0 ? 7 : 8});
  porta::ops::fill(stream(), t, 1.0);
  expect_error(Errc::shape_mismatch, "PORTA_COMM_CHECK: rank 0 called all_reduce(sum, f32 x 7)",
               [&] { world().all_reduce(stream(), t, t); });
  Tensor h = Tensor::empty(dev, world().rank() == 0 ? DType::f32 : DType::f16, {4});
  expect_error(Errc::dtype_mismatch, "every rank must make the same call", [&] { world().all_gather(stream(), h,
      Tensor::empty(dev, h.dtype(), {4 * world().size()})); });
  expect_usable();  // a detected mismatch does not abort the communicator
}

TEST(CommErrors, RankThatLeavesGivesErrorsWithinTheDeadline) {
  if (!env_is("PORTA_COMM_TEST_EARLY_EXIT", "1"))
    GTEST_SKIP() << "runs with PORTA_COMM_TEST_EARLY_EXIT=1 and a short PORTA_COMM_TIMEOUT_S (its own CTest entry)";
  const char* timeout_env = std::getenv("PORTA_COMM_TIMEOUT_S");
  const double timeout = timeout_env ? std::atof(timeout_env) : 300.0;
  // The last rank leaves: it returns and finalises MPI without taking part.
  if (world().rank() == world().size() - 1) return;
  Tensor t = Tensor::empty(world().device(), DType::f32, {1 << 16});
  porta::ops::fill(stream(), t, 1.0);
  const auto t0 = std::chrono::steady_clock::now();
  expect_error(Errc::comm_failed, "PORTA_COMM_TIMEOUT_S", [&] { world().all_reduce(stream(), t, t); });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, timeout * 0.9);
  EXPECT_LE(waited, timeout + 10.0);
  expect_error(Errc::comm_failed, "aborted", [&] { world().all_reduce(stream(), t, t); });
  // The device itself is fine.
  porta::ops::fill(stream(), t, 2.0);
  stream().synchronize();
}

}  // namespace
