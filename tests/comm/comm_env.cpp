#include "comm_env.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace commtest {
namespace {

uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

}  // namespace

std::vector<char> make_input(porta::DType t, int64_t n, int rank, uint32_t seed) {
  const bool integer = t == porta::DType::i32 || t == porta::DType::i8;
  std::vector<float> v(static_cast<size_t>(n));
  const uint32_t base = seed * 0x9e3779b9U;
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t h = mix(base ^ mix(static_cast<uint32_t>(rank) * 7919U + static_cast<uint32_t>(i)));
    v[i] = integer ? static_cast<float>(static_cast<int32_t>(h % 201) - 100)
                   : static_cast<float>(h >> 8) * (2.0f / 16777216.0f) - 1.0f;  // [-1, 1), exact in f32
  }
  std::vector<char> out(v.size() * porta::dtype_size(t));
  porta::convert_host(porta::DType::f32, v.data(), t, out.data(), v.size());
  return out;
}

std::vector<char> expected_reduce(porta::DType t, int64_t n, int ranks, uint32_t seed, porta::ReduceOp op) {
  const size_t count = static_cast<size_t>(n);
  const bool is_max = op == porta::ReduceOp::max;
  std::vector<char> out(count * porta::dtype_size(t));
  if (t == porta::DType::i32) {
    std::vector<int32_t> acc(count), v(count);
    for (int r = 0; r < ranks; ++r) {
      const auto in = make_input(t, n, r, seed);
      std::memcpy(r == 0 ? acc.data() : v.data(), in.data(), in.size());
      if (r > 0)
        for (size_t i = 0; i < count; ++i) acc[i] = is_max ? std::max(acc[i], v[i]) : acc[i] + v[i];
    }
    std::memcpy(out.data(), acc.data(), out.size());
    return out;
  }
  // Rank order, f32 accumulation of the values as the dtype stores them, one rounding.
  std::vector<float> acc(count), v(count);
  for (int r = 0; r < ranks; ++r) {
    const auto in = make_input(t, n, r, seed);
    porta::convert_host(t, in.data(), porta::DType::f32, r == 0 ? acc.data() : v.data(), count);
    if (r > 0)
      for (size_t i = 0; i < count; ++i) acc[i] = is_max ? std::max(acc[i], v[i]) : acc[i] + v[i];
  }
  porta::convert_host(porta::DType::f32, acc.data(), t, out.data(), count);
  return out;
}

porta::Tensor upload(porta::DType t, int64_t n, const std::vector<char>& host) {
  return porta::Tensor::from_host(stream(), t, {n}, host.data());
}

std::vector<char> download(const porta::Tensor& t) {
  std::vector<char> host(static_cast<size_t>(t.nbytes()));
  t.copy_to_host(stream(), host.data());
  return host;
}

}  // namespace commtest
