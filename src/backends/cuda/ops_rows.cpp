// Row ops: rms_norm, layer_norm, softmax, rope, embedding, argmax. rows_plan.h decides
// whether the 16-byte vector paths apply; the strided kernels take everything else.
#include <cmath>
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "backends/cuda/rows_plan.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/rope_freq.h"

namespace porta::cuda {
namespace {

std::string shape_text(const backend::TensorArg& t) {
  std::string s = "[";
  for (int i = 0; i < t.rank; ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "] " + dtype_name(t.dtype);
}

NormDesc norm_desc(const backend::NormArgs& a, bool layer) {
  NormDesc d;
  d.x = to_desc(a.x);
  d.weight = to_desc(a.weight);
  if (a.bias) d.bias = to_desc(*a.bias);
  d.out = to_desc(a.out);
  d.D = a.x.rank > 0 ? a.x.shape[a.x.rank - 1] : 1;
  d.rows = d.D > 0 ? a.x.numel() / d.D : 0;
  d.eps = a.eps;
  d.layer = layer;
  return d;
}

int launch_norm_planned(const NormDesc& d, const CudaDevice& dev, void* stream) {
  RowsLaunch p;
  return dev.settings().rows_vector && plan_norm(d, dev.sm_count(), &p) ? launch_norm_dense(d, p, stream)
                                                                        : launch_norm(d, stream);
}

}  // namespace

void CudaQueue::rms_norm(const backend::NormArgs& a) {
  set_device(dev_.ordinal());
  check_launch(launch_norm_planned(norm_desc(a, false), dev_, stream_), "rms_norm of " + shape_text(a.x));
}

void CudaQueue::layer_norm(const backend::NormArgs& a) {
  set_device(dev_.ordinal());
  check_launch(launch_norm_planned(norm_desc(a, true), dev_, stream_), "layer_norm of " + shape_text(a.x));
}

void CudaQueue::softmax(const backend::SoftmaxArgs& a) {
  set_device(dev_.ordinal());
  SoftmaxDesc d;
  d.x = to_desc(a.x);
  if (a.mask) d.mask = to_desc(*a.mask);
  d.out = to_desc(a.out);
  d.D = a.x.rank > 0 ? a.x.shape[a.x.rank - 1] : 1;
  d.rows = d.D > 0 ? a.x.numel() / d.D : 0;
  d.scale = a.scale;
  RowsLaunch p;
  const int status = dev_.settings().rows_vector && plan_softmax(d, dev_.sm_count(), &p)
                         ? launch_softmax_dense(d, p, stream_)
                         : launch_softmax(d, stream_);
  check_launch(status, "softmax of " + shape_text(a.x));
}

void CudaQueue::rope(const backend::RopeArgs& a) {
  set_device(dev_.ordinal());
  RopeDesc d;
  d.x = to_desc(a.x);
  d.positions = to_desc(a.positions);
  d.out = to_desc(a.out);
  d.rotary_dim = a.rotary_dim;
  d.neox = a.style == ops::RopeStyle::neox;
  d.log2_theta = std::log2(static_cast<double>(a.theta));
  RopeFreqDiv f;
  if (a.freq_factors) {
    if (a.rotary_dim / 2 > kRopeMaxFactors)
      throw Error(Errc::unsupported, "rope: freq_factors with rotary_dim " + std::to_string(a.rotary_dim) +
                                         " (this backend takes them up to rotary_dim " +
                                         std::to_string(2 * kRopeMaxFactors) + ")");
    f.n = a.rotary_dim / 2;
    for (int i = 0; i < f.n; ++i) f.v[i] = a.freq_factors[i];
  }
  RopeLaunch p;
  const int status = dev_.settings().rows_vector && plan_rope(d, dev_.sm_count(), &p)
                         ? launch_rope_vec_scaled(d, p, f, stream_)
                         : launch_rope_scaled(d, f, stream_);
  check_launch(status, "rope of " + shape_text(a.x));
}

void CudaQueue::embedding(const backend::EmbeddingArgs& a) {
  set_device(dev_.ordinal());
  EmbeddingDesc d;
  d.table = to_desc(a.table);
  d.ids = to_desc(a.ids);
  d.out = to_desc(a.out);
  VecRowsLaunch p;
  const int status = dev_.settings().rows_vector && plan_embedding_rows(d, &p)
                         ? launch_embedding_rows(d, p, stream_)
                         : launch_embedding(d, stream_);
  check_launch(status, "embedding from table " + shape_text(a.table));
}

void CudaQueue::argmax(const backend::ArgmaxArgs& a) {
  set_device(dev_.ordinal());
  ArgmaxDesc d;
  d.x = to_desc(a.x);
  d.out = to_desc(a.out);
  if (!dev_.settings().rows_vector) {
    check_launch(launch_argmax(d, stream_), "argmax of " + shape_text(a.x));
    return;
  }
  ArgmaxSplit p = plan_argmax(d, dev_.sm_count());
  if (p.chunks > 1) {  // (value, index) partials of every chunk, merged by the second pass
    const uint64_t parts = static_cast<uint64_t>(d.x.shape[2]) * static_cast<uint64_t>(p.chunks);
    char* ws = static_cast<char*>(workspace(parts * (sizeof(double) + sizeof(int64_t))));
    p.part_val = reinterpret_cast<double*>(ws);
    p.part_idx = reinterpret_cast<int64_t*>(ws + parts * sizeof(double));
  }
  check_launch(launch_argmax_split(d, p, stream_), "argmax of " + shape_text(a.x));
}

}  // namespace porta::cuda
