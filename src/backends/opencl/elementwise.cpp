// Element-wise ops, cast and copy (elementwise.cl). Dtypes are run-time arguments: these
// ops are bandwidth bound, and one program per family keeps run-time compilation short.
#include <algorithm>

#include "backends/opencl/queue.h"

namespace porta::opencl {

void ClQueue::copy_view(const View4& src, const View4& dst, size_t esize, const char* what) {
  const bool cpu = dev_.tuning().cls == DeviceClass::cpu;
  const int64_t rows = src.dim(0) * src.dim(1) * src.dim(2), cols = src.dim(3);
  if (rows == 0 || cols == 0) return;
  // A transposing copy on a CPU walks 32x32 tiles; everything else walks rows.
  if (cpu && src.st(3) != 1 && rows > 1 && cols > 1) {
    const int64_t tiles = ((rows + 31) / 32) * ((cols + 31) / 32);
    const size_t global = static_cast<size_t>(std::min<int64_t>(tiles, 256)), local = 1;
    Launch(kernel("elementwise", base_options(dev_), "copy_raw_tiled"), what)
        .arg(cl_int{static_cast<int>(esize)})
        .arg(cl_int{32})
        .arg(cl_int{32})
        .arg(src.shape)
        .tensor(src)
        .tensor(dst)
        .run(q_, 1, &global, &local);
    return;
  }
  const RowColRange rc = row_col_range(src.shape, cpu);
  Launch(kernel("elementwise", base_options(dev_), "copy_raw"), what)
      .arg(cl_int{static_cast<int>(esize)})
      .arg(src.shape)
      .tensor(src)
      .tensor(dst)
      .run(q_, 2, rc.global, rc.local);
}

void ClQueue::elementwise(const backend::ElementwiseArgs& a) {
  const View4 x = view4(a.a), o = view4(a.out);
  const RowColRange rc = row_col_range(o.shape, dev_.tuning().cls == DeviceClass::cpu);
  const std::string opts = base_options(dev_);
  if (a.kind == backend::Elementwise::copy ||
      (a.kind == backend::Elementwise::cast && a.a.dtype == a.out.dtype)) {
    copy_view(x, o, dtype_size(a.out.dtype), "copy");
    return;
  }
  if (a.kind == backend::Elementwise::cast) {
    Launch(kernel("elementwise", opts, "cast"), "cast")
        .arg(o.shape)
        .tensor(x)
        .arg(cl_int{static_cast<int>(a.a.dtype)})
        .tensor(o)
        .arg(cl_int{static_cast<int>(a.out.dtype)})
        .run(q_, 2, rc.global, rc.local);
    return;
  }
  cl_int kind = 0;
  bool binary = false;
  switch (a.kind) {
    case backend::Elementwise::silu_mul: kind = 0, binary = true; break;
    case backend::Elementwise::gelu_tanh: kind = 1; break;
    case backend::Elementwise::gelu_erf: kind = 2; break;
    case backend::Elementwise::add: kind = 3, binary = true; break;
    case backend::Elementwise::mul: kind = 4, binary = true; break;
    default: kind = 5; break;
  }
  const View4 y = binary ? view4(a.b) : x;
  Launch(kernel("elementwise", opts, "elementwise"), "elementwise")
      .arg(kind)
      .arg(cl_float{a.alpha})
      .arg(o.shape)
      .tensor(x)
      .arg(cl_int{static_cast<int>(x.dtype)})
      .tensor(y)
      .arg(cl_int{static_cast<int>(y.dtype)})
      .tensor(o)
      .arg(cl_int{static_cast<int>(o.dtype)})
      .run(q_, 2, rc.global, rc.local);
}

}  // namespace porta::opencl
