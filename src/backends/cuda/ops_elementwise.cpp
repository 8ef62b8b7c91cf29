// Element-wise ops, cast, copy and fill: dense same-dtype copies and zero fills use the
// runtime's memcpy/memset; float ops, strided copies and other fills take 16-byte vector
// kernels where rows_plan.h allows (broadcast operands included), else the strided ones.
#include <cstring>
#include <string>

#include "backends/cuda/cuda_error.h"
#include "backends/cuda/cuda_objects.h"
#include "backends/cuda/rows_plan.h"
#include "kernels/cuda/launch.h"

namespace porta::cuda {
namespace {

bool binary(backend::Elementwise k) {
  return k == backend::Elementwise::silu_mul || k == backend::Elementwise::add ||
         k == backend::Elementwise::mul;
}

bool aligned(const char* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

std::string shape_text(const backend::TensorArg& t) {
  std::string s = "[";
  for (int i = 0; i < t.rank; ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "] " + dtype_name(t.dtype);
}

}  // namespace

void CudaQueue::elementwise(const backend::ElementwiseArgs& e) {
  set_device(dev_.ordinal());
  using K = backend::Elementwise;
  const bool bin = binary(e.kind);
  ElementwiseDesc d;
  d.kind = static_cast<int32_t>(e.kind);
  d.a = to_desc(e.a);
  d.b = bin ? to_desc(e.b) : d.a;
  d.out = to_desc(e.out);
  d.alpha = e.alpha;
  d.n = e.out.numel();
  d.dense = e.out.contiguous() && e.a.contiguous() && (!bin || e.b.contiguous());
  if (d.n == 0) return;
  const std::string what =
      std::string("elementwise op ") + std::to_string(d.kind) + " on " + shape_text(e.out);
  const bool move = e.kind == K::copy || (e.kind == K::cast && e.a.dtype == e.out.dtype);
  if (move || e.kind == K::cast) {
    if (move && d.dense) {
      const size_t bytes = static_cast<size_t>(d.n) * dtype_size(e.out.dtype);
      check(static_cast<int>(pcMemcpyAsync(d.out.ptr, d.a.ptr, bytes, pcMemcpyDeviceToDevice,
                                           static_cast<pcStream_t>(stream_))),
            "cudaMemcpyAsync(device to device) for copy of " + shape_text(e.out));
      return;
    }
    const bool vec = dev_.settings().rows_vector;
    VecRowsLaunch p;
    if (move && vec && plan_copy_rows(d, &p)) {
      check_launch(launch_copy_rows(d, p, stream_), what);
      return;
    }
    // For casts vec4 means: dense float-to-float, 16-byte aligned (cast_vec8 in cast_copy.cu).
    d.vec4 = !move && vec && plan_cast_vec(d);
    check_launch(launch_cast_copy(d, stream_), what);
    return;
  }
  VecRowsLaunch p;
  if (dev_.settings().rows_vector && plan_elementwise_rows(d, bin, &p)) {
    check_launch(launch_elementwise_rows(d, p, stream_), what);
    return;
  }
  if (d.dense) {
    auto ok = [&](const TDesc& t) { return aligned(t.ptr, t.dtype == kF32 ? 16 : 8); };
    d.vec4 = ok(d.a) && ok(d.out) && (!bin || ok(d.b));
  }
  check_launch(launch_elementwise(d, stream_), what);
}

void CudaQueue::fill(const backend::FillArgs& f) {
  set_device(dev_.ordinal());
  FillDesc d;
  d.dst = to_desc(f.dst);
  d.n = f.dst.numel();
  if (d.n == 0) return;
  unsigned char bytes[8] = {};
  if (f.dst.dtype == DType::f16) {  // one rounding from the double (round to odd, then to half)
    const uint16_t h = float_to_f16(f32_round_to_odd(f.value));
    std::memcpy(bytes, &h, 2);
  } else if (f.dst.dtype == DType::bf16) {
    const uint16_t h = float_to_bf16(f32_round_to_odd(f.value));
    std::memcpy(bytes, &h, 2);
  } else {
    store_from_double(f.dst.dtype, bytes, 0, f.value);
  }
  const size_t es = dtype_size(f.dst.dtype);
  uint32_t pattern = 0;
  std::memcpy(&pattern, bytes, es);  // little-endian: the element's bytes are pattern's low bytes
  d.pattern = pattern;
  const bool uniform_bytes = es == 1 || pattern == 0;
  if (f.dst.contiguous() && uniform_bytes) {
    check(static_cast<int>(pcMemsetAsync(d.dst.ptr, bytes[0], static_cast<size_t>(d.n) * es,
                                         static_cast<pcStream_t>(stream_))),
          "cudaMemsetAsync for fill of " + shape_text(f.dst));
    return;
  }
  const int status = dev_.settings().rows_vector && fill_vec16_eligible(d, f.dst.contiguous())
                         ? launch_fill_vec16(d, stream_)
                         : launch_fill(d, stream_);
  check_launch(status, "fill of " + shape_text(f.dst));
}

}  // namespace porta::cuda
