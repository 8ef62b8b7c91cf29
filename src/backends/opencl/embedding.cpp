// embedding: a row gather of raw elements (any dtype); ids outside [0, V) give zero rows.
#include "backends/opencl/queue.h"

namespace porta::opencl {

void ClQueue::embedding(const backend::EmbeddingArgs& a) {
  const View4 table = view4(a.table), ids = view4(a.ids), o = view4(a.out);
  const int64_t N = a.ids.numel(), D = a.table.shape[1], V = a.table.shape[0];
  cl_long4 shape = {{1, 1, N, D}};
  const RowColRange rc = row_col_range(shape, dev_.tuning().cls == DeviceClass::cpu);
  Launch(kernel("elementwise", base_options(dev_), "embedding"), "embedding")
      .arg(cl_int{static_cast<int>(dtype_size(a.table.dtype))})
      .arg(cl_long{N})
      .arg(cl_long{D})
      .arg(cl_long{V})
      .tensor(table)
      .tensor(ids)
      .tensor(o)
      .run(q_, 2, rc.global, rc.local);
}

}  // namespace porta::opencl
