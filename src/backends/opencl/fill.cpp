// fill: the value is rounded to the dtype once on the host (porta's own conversion), then
// written as a raw bit pattern; contiguous tensors use clEnqueueFillBuffer.
#include <cstring>

#include "backends/opencl/queue.h"

namespace porta::opencl {

void ClQueue::fill(const backend::FillArgs& a) {
  const size_t esize = dtype_size(a.dst.dtype);
  unsigned char elem[8] = {};
  store_from_double(a.dst.dtype, elem, 0, a.value);
  cl_uint bits = 0;
  std::memcpy(&bits, elem, esize);
  const int64_t n = a.dst.numel();
  if (n == 0) return;
  if (a.dst.contiguous() && a.dst.offset % static_cast<int64_t>(esize) == 0) {
    check(clEnqueueFillBuffer(q_, mem_of(a.dst), elem, esize, static_cast<size_t>(a.dst.offset),
                              static_cast<size_t>(n) * esize, 0, nullptr, nullptr),
          "fill (clEnqueueFillBuffer)");
    return;
  }
  const View4 o = view4(a.dst);
  const RowColRange rc = row_col_range(o.shape, dev_.tuning().cls == DeviceClass::cpu);
  Launch(kernel("elementwise", base_options(dev_), "fill_pattern"), "fill")
      .arg(cl_int{static_cast<int>(esize)})
      .arg(bits)
      .arg(o.shape)
      .tensor(o)
      .run(q_, 2, rc.global, rc.local);
}

}  // namespace porta::opencl
