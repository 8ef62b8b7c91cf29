// Element-wise ops, cast and copy (elementwise.cl). Dtypes are run-time arguments: these
// ops are bandwidth bound, and one program per family keeps run-time compilation short.
#include "backends/opencl/queue.h"

namespace porta::opencl {

void ClQueue::elementwise(const backend::ElementwiseArgs& a) {
  const View4 x = view4(a.a), o = view4(a.out);
  const RowColRange rc = row_col_range(o.shape);
  const std::string opts = base_options(dev_);
  if (a.kind == backend::Elementwise::copy ||
      (a.kind == backend::Elementwise::cast && a.a.dtype == a.out.dtype)) {
    const cl_int esize = static_cast<cl_int>(dtype_size(a.out.dtype));
    Launch(kernel("elementwise", opts, "copy_raw"), "copy")
        .arg(esize)
        .arg(o.shape)
        .tensor(x)
        .tensor(o)
        .run(q_, 2, rc.global, rc.local);
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
