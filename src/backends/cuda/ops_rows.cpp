// Row ops: rms_norm, layer_norm, softmax, rope, embedding, argmax.
#include <cmath>
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "kernels/cuda/launch.h"

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

}  // namespace

void CudaQueue::rms_norm(const backend::NormArgs& a) {
  set_device(dev_.ordinal());
  check_launch(launch_norm(norm_desc(a, false), stream_), "rms_norm of " + shape_text(a.x));
}

void CudaQueue::layer_norm(const backend::NormArgs& a) {
  set_device(dev_.ordinal());
  check_launch(launch_norm(norm_desc(a, true), stream_), "layer_norm of " + shape_text(a.x));
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
  check_launch(launch_softmax(d, stream_), "softmax of " + shape_text(a.x));
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
  check_launch(launch_rope(d, stream_), "rope of " + shape_text(a.x));
}

void CudaQueue::embedding(const backend::EmbeddingArgs& a) {
  set_device(dev_.ordinal());
  EmbeddingDesc d;
  d.table = to_desc(a.table);
  d.ids = to_desc(a.ids);
  d.out = to_desc(a.out);
  check_launch(launch_embedding(d, stream_), "embedding from table " + shape_text(a.table));
}

void CudaQueue::argmax(const backend::ArgmaxArgs& a) {
  set_device(dev_.ordinal());
  ArgmaxDesc d;
  d.x = to_desc(a.x);
  d.out = to_desc(a.out);
  check_launch(launch_argmax(d, stream_), "argmax of " + shape_text(a.x));
}

}  // namespace porta::cuda
