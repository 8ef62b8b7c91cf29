// Row ops: rms_norm, layer_norm, softmax, argmax (norm.cl, softmax.cl, argmax.cl). One
// work-group per row, ROW_WG work-items each (from the device tuning table).
#include "backends/opencl/queue.h"

namespace porta::opencl {

namespace {

std::string row_options(const ClDevice& d) {
  return base_options(d) + " -DROW_WG=" + std::to_string(d.tuning().row.wg);
}

int64_t rows_of(const View4& v) { return v.dim(0) * v.dim(1) * v.dim(2); }

}  // namespace

void ClQueue::norm(const backend::NormArgs& a, bool layer) {
  const View4 x = view4(a.x), w = view4(a.weight), o = view4(a.out);
  const View4 b = a.bias ? view4(*a.bias) : w;
  const int64_t rows = rows_of(x);
  const size_t wg = static_cast<size_t>(dev_.tuning().row.wg), global = row_groups(rows) * wg;
  Launch(kernel("norm", row_options(dev_), "norm_rows"), layer ? "layer_norm" : "rms_norm")
      .arg(cl_int{layer ? 1 : 0})
      .arg(cl_long{rows})
      .arg(x.shape)
      .arg(cl_float{a.eps})
      .tensor(x)
      .arg(cl_int{static_cast<int>(x.dtype)})
      .tensor(w)
      .arg(cl_int{static_cast<int>(w.dtype)})
      .tensor(b)
      .arg(cl_int{static_cast<int>(b.dtype)})
      .arg(cl_int{a.bias ? 1 : 0})
      .tensor(o)
      .arg(cl_int{static_cast<int>(o.dtype)})
      .run(q_, 1, &global, &wg);
}

void ClQueue::rms_norm(const backend::NormArgs& a) { norm(a, false); }
void ClQueue::layer_norm(const backend::NormArgs& a) { norm(a, true); }

void ClQueue::softmax(const backend::SoftmaxArgs& a) {
  const View4 x = view4(a.x), o = view4(a.out);
  const View4 m = a.mask ? view4(*a.mask) : x;
  const int64_t rows = rows_of(x);
  const size_t wg = static_cast<size_t>(dev_.tuning().row.wg), global = row_groups(rows) * wg;
  Launch(kernel("softmax", row_options(dev_), "softmax_rows"), "softmax")
      .arg(cl_long{rows})
      .arg(x.shape)
      .arg(cl_float{a.scale})
      .tensor(x)
      .arg(cl_int{static_cast<int>(x.dtype)})
      .tensor(m)
      .arg(cl_int{static_cast<int>(m.dtype)})
      .arg(cl_int{a.mask ? 1 : 0})
      .tensor(o)
      .arg(cl_int{static_cast<int>(o.dtype)})
      .run(q_, 1, &global, &wg);
}

void ClQueue::argmax(const backend::ArgmaxArgs& a) {
  const View4 x = view4(a.x), o = view4(a.out);
  const int64_t rows = a.x.shape[0], cols = a.x.shape[1];
  const size_t wg = static_cast<size_t>(dev_.tuning().row.wg), global = row_groups(rows) * wg;
  Launch(kernel("argmax", row_options(dev_), "argmax_rows"), "argmax")
      .arg(cl_long{rows})
      .arg(cl_long{cols})
      .tensor(x)
      .arg(cl_int{static_cast<int>(x.dtype)})
      .arg(o.mem)
      .arg(o.offset)
      .arg(cl_long{o.st(3)})
      .run(q_, 1, &global, &wg);
}

}  // namespace porta::opencl
