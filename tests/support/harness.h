// Conformance-test plumbing: the device list, seeded random data rounded to a dtype,
// inputs in several memory layouts, outputs fenced by guard regions and poisoned
// with NaN, and the error metric with its tolerances (stated once, in tolerance()).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "reference/reference.h"

namespace porta::test {

using ref::HostTensor;

/// Devices under test: porta::devices() filtered by PORTA_TEST_DEVICES ("cpu", "cpu:0,vulkan").
std::vector<Device> test_devices();
/// "cpu_0" for test names.
std::string device_name(const ::testing::TestParamInfo<Device>& info);

/// Memory layouts a tensor can have; all hold the same logical values.
enum class Layout {
  contiguous,
  padded,      // rows of the last dim padded by 3 elements: non-contiguous, gaps between rows
  transposed,  // stored with the last two dims swapped and viewed through transpose (rank >= 2)
  stepped,     // every other element of a twice-as-wide last dim (slice with step 2): inner stride 2
};
const char* layout_name(Layout l);

/// Uniform random values in [lo, hi), rounded to what `t` can hold. Fixed seed per call site.
HostTensor random(const std::vector<int64_t>& shape, DType t, uint32_t seed, double lo = -1.0,
                  double hi = 1.0);

/// A device tensor holding `h` (converted to t) in the given layout.
Tensor upload(Stream& s, const HostTensor& h, DType t, Layout layout = Layout::contiguous);
/// Logical values of any tensor, as doubles.
HostTensor download(Stream& s, const Tensor& t);

/// An output tensor inside a larger buffer whose other bytes hold a sentinel pattern.
class GuardedOutput {
 public:
  /// The view is poisoned (NaN for float dtypes, -77 for integers) before the op runs.
  GuardedOutput(Stream& s, const std::vector<int64_t>& shape, DType t, Layout layout = Layout::contiguous);
  Tensor& tensor() { return view_; }
  /// Logical values after the op; ADD_FAILUREs if any guard byte changed.
  HostTensor result(Stream& s) const;
  /// Uploads `h` into the view (for beta != 0 and in-place ops).
  void set(Stream& s, const HostTensor& h);

 private:
  Tensor storage_, view_;
  std::vector<uint8_t> pattern_;
};

/// Op classes with their own error budgets.
enum class OpClass { elementwise, reduction, matmul, exact };
/// NMSE threshold for an op class and output dtype (the one table of tolerances).
double tolerance(OpClass c, DType t);

/// NMSE = Σ(out−ref)²/Σref². Fails on NaN/Inf where the reference is finite, on a
/// shape mismatch, and (when check_weak) when most reference values are zero.
::testing::AssertionResult close(const HostTensor& out, const HostTensor& ref, OpClass c, DType t,
                                 bool check_weak = true);
/// Exact equality (copies, casts, fills, gathers).
::testing::AssertionResult equal(const HostTensor& out, const HostTensor& ref);

/// Runs ops::attention(Q, K, V) (device tensors holding q, k, v in any layout) into `out`
/// with default scale, `causal` and kv_lens (`lens`, empty: none), and compares it with the
/// float64 reference. Rows that see no key are zero by definition, so the weak-test guard
/// is on only when every row sees a key.
void check_attention(Stream& s, const HostTensor& q, const HostTensor& k, const HostTensor& v,
                     const Tensor& Q, const Tensor& K, const Tensor& V, GuardedOutput& out, DType t,
                     bool causal, const std::vector<int32_t>& lens);

/// Value-parameterised fixture over test_devices(); skips with the reason when none.
class DeviceTest : public ::testing::TestWithParam<Device> {
 protected:
  Device device() const { return GetParam(); }
  /// Whether the device runs `op` in dtype t (input and output), as Device::supports says.
  /// A "no" is printed (once per test, op and dtypes): the cases it skips are never silent.
  bool supports(const char* op, DType t) const { return supports(op, t, t); }
  bool supports(const char* op, DType in, DType out) const {
    return noted(GetParam().supports(op, in, out), op, in, out);
  }
  /// Whether t is among the device's dtypes at all (for loops over several ops; each op
  /// that the device may lack in t is asked about separately).
  bool supports(DType t) const { return noted(GetParam().info().supports(t), nullptr, t, t); }

 private:
  bool noted(bool supported, const char* op, DType in, DType out) const;
};

std::string shape_str(const std::vector<int64_t>& s);

/// `a` followed by `b` (batch dims, then matrix dims).
std::vector<int64_t> cat(std::vector<int64_t> a, std::initializer_list<int64_t> b);
/// The last two dims swapped (what a transposed operand's storage holds).
HostTensor transpose_last(const HostTensor& x);
/// [B, H, S, D] values laid out as [B, S, H, D] storage (an engine's KV cache layout).
HostTensor to_bshd(const HostTensor& x);
/// x [B, H, S, D] with NaN at the positions j >= lens[b] (clamped to S) of each batch entry:
/// cache slots past a kv length, which attention must never read.
HostTensor nan_past_lengths(HostTensor x, const std::vector<int32_t>& lens);

}  // namespace porta::test

namespace porta {
/// Names a device in gtest failure listings ("cpu:0 (...)" instead of raw bytes).
inline void PrintTo(const Device& d, std::ostream* os) { *os << d.description(); }
}  // namespace porta

#define PORTA_INSTANTIATE_ON_DEVICES(Suite)                                                    \
  INSTANTIATE_TEST_SUITE_P(Devices, Suite, ::testing::ValuesIn(::porta::test::test_devices()), \
                           ::porta::test::device_name)
