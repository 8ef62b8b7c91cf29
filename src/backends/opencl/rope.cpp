// rope (rope.cl). Frequencies theta^(-2i/R) (divided by the optional factors) are computed on the host in
// double and passed as (hi, lo) float pairs, cached per (theta, R) in the queue.
#include <cmath>
#include <vector>

#include "backends/opencl/queue.h"

namespace porta::opencl {

void ClQueue::rope(const backend::RopeArgs& a) {
  const View4 x = view4(a.x), pos = view4(a.positions), o = view4(a.out);
  const int R = a.rotary_dim;
  std::vector<cl_float2> freq(static_cast<size_t>(R / 2));
  for (int i = 0; i < R / 2; ++i) {
    const double f = std::pow(static_cast<double>(a.theta), -2.0 * i / R) /
                     (a.freq_factors ? static_cast<double>(a.freq_factors[i]) : 1.0);
    freq[static_cast<size_t>(i)].s[0] = static_cast<float>(f);
    freq[static_cast<size_t>(i)].s[1] = static_cast<float>(f - static_cast<double>(static_cast<float>(f)));
  }
  const std::string key = "rope:" + std::to_string(a.theta) + ":" + std::to_string(R);  // + the table's bits
  cl_mem table = constant_table(key, freq.data(), freq.size() * sizeof(cl_float2));
  const int64_t n = x.dim(0) * x.dim(1) * x.dim(2) * (x.dim(3) - R / 2);
  const size_t global = grid_items(n), local = kGroup;
  Launch(kernel("rope", base_options(dev_), "rope"), "rope")
      .arg(cl_int{a.style == ops::RopeStyle::neox ? 0 : 1})
      .arg(cl_int{R})
      .arg(x.shape)
      .tensor(x)
      .arg(cl_int{static_cast<int>(x.dtype)})
      .tensor(pos)
      .arg(table)
      .tensor(o)
      .arg(cl_int{static_cast<int>(o.dtype)})
      .run(q_, 1, &global, &local);
}

}  // namespace porta::opencl
