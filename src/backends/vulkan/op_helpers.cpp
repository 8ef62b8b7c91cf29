#include <algorithm>

#include "backends/vulkan/ops.h"

namespace porta::vk {

uint32_t u32(int64_t v, const char* op, const char* what) {
  if (v < 0 || v > int64_t{0xffffffff})
    throw Error(Errc::unsupported,
                std::string("vulkan: ") + op + ": " + what + " = " + std::to_string(v) +
                    " exceeds the 32-bit indexing of the Vulkan kernels; split the tensor");
  return static_cast<uint32_t>(v);
}

Dims4 dims4(const TensorArg& t, const char* op) {
  Dims4 d{{1, 1, 1, 1}, {0, 0, 0, 0}};
  const int shift = 4 - t.rank;
  for (int i = 0; i < t.rank; ++i) {
    d.shape[shift + i] = u32(t.shape[i], op, "extent");
    d.strides[shift + i] = u32(t.strides[i], op, "stride");
  }
  return d;
}

void strides4(const TensorArg& t, uint32_t out[4], const char* op) {
  const Dims4 d = dims4(t, op);
  std::copy(d.strides, d.strides + 4, out);
}

uint32_t groups(VulkanQueue& q, uint64_t n, uint32_t per_group) {
  uint64_t g = std::min<uint64_t>((n + per_group - 1) / per_group,
                                  std::min<uint32_t>(q.device().caps().max_groups[0], 65535u));
  // The shaders step a 32-bit index by the grid's size while it is below n: index + step must
  // stay below 2^32 or it wraps and the loop never ends (n within one grid of 2^32).
  const uint64_t room = n < (uint64_t{1} << 32) ? (uint64_t{1} << 32) - n : 0;
  g = std::min<uint64_t>(g, room / per_group);
  if (g == 0 && n > 0)
    throw Error(Errc::unsupported, "vulkan: " + std::to_string(n) +
                                       " items in one dispatch leave no room for the kernels' 32-bit "
                                       "grid-stride index below 2^32; split the tensor");
  return static_cast<uint32_t>(g);
}

uint64_t max_trips(const VulkanDevice& dev) {
  const uint32_t lim = dev.caps().loop_limit;
  return lim == 0 ? UINT64_MAX : lim / 2;
}

uint32_t row_split_chunk(VulkanDevice& dev, const char* op, uint64_t D, uint32_t threads, uint32_t passes,
                         uint32_t reductions) {
  const uint64_t budget = max_trips(dev);
  if (budget == UINT64_MAX) return 0;
  uint64_t steps = 0;  // one tree reduction: log2(threads) halvings
  for (uint32_t t = threads; t > 1; t >>= 1) ++steps;
  const uint64_t fixed = 1 + reductions * steps;  // + the row or chunk loop itself
  if (fixed + passes * ((D + threads - 1) / threads) <= budget) return 0;
  // Half the budget for a chunk's sweeps, the rest for folding the row's chunks.
  const uint64_t sweeps = budget > fixed ? (budget - fixed) / (2 * passes) : 0;
  const uint64_t chunk = std::min<uint64_t>(sweeps * threads, uint64_t{1} << 30);
  if (chunk == 0 || (D + chunk - 1) / chunk + sweeps + fixed > budget)
    throw Error(Errc::unsupported, std::string("vulkan: ") + op + ": rows of " + std::to_string(D) +
                                       " elements need more loop iterations per invocation than " +
                                       dev.info().name + " runs (" + std::to_string(dev.caps().loop_limit) +
                                       "), even split into chunks; split the row or use another device");
  return static_cast<uint32_t>(chunk);
}

}  // namespace porta::vk
