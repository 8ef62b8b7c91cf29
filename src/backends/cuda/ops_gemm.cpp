// GEMM dispatch: gemm_plan.cpp picks the kernel (and split-K); this file fills the
// descriptor, encodes the sm90 kernel's tensor maps (tma_map.cpp), provides the split-K
// workspace and launches.
#include <algorithm>
#include <string>

#include "backends/cuda/cuda_objects.h"
#include "backends/cuda/tma_map.h"
#include "kernels/cuda/launch.h"

namespace porta::cuda {
namespace {

int32_t act_code(ops::Activation a) {
  switch (a) {
    case ops::Activation::relu: return kActRelu;
    case ops::Activation::gelu: return kActGelu;
    case ops::Activation::silu: return kActSilu;
    default: return kActNone;
  }
}

}  // namespace

void CudaQueue::gemm(const backend::GemmArgs& g) {
  set_device(dev_.ordinal());
  GemmDesc d;
  d.a = to_desc(g.a);
  d.b = to_desc(g.b);
  d.c = to_desc(g.c);
  if (g.bias) d.bias = to_desc(*g.bias);
  d.batch = g.c.shape[0];
  d.M = g.c.shape[1];
  d.N = g.c.shape[2];
  d.K = g.a.shape[2];
  d.alpha = g.alpha;
  d.beta = g.beta;
  d.act = act_code(g.activation);
  if (d.batch == 0 || d.M == 0 || d.N == 0) return;

  GemmShape s;
  s.batch = d.batch, s.M = d.M, s.N = d.N, s.K = d.K;
  s.a = g.a.dtype, s.b = g.b.dtype;
  for (int i = 0; i < 3; ++i) s.a_strides[i] = g.a.strides[i], s.b_strides[i] = g.b.strides[i];
  s.a_addr = reinterpret_cast<uintptr_t>(d.a.ptr);
  s.b_addr = reinterpret_cast<uintptr_t>(d.b.ptr);
  run_gemm(d, s);
}

void CudaQueue::run_gemm(GemmDesc d, const GemmShape& s) {
  GemmPlan plan = plan_gemm(s, dev_.gemm_facts(), dev_.settings().gemm, dev_.tuning().gemm);
  GemmSm90Maps maps;
  if (plan.path == GemmPath::sm90) {
    // Encoding is a few microseconds of host work per call, so the maps are not cached.
    TmaMapSpec ma, mb;
    std::string why;
    const bool ok = gemm_tma_specs(s, plan.tile, plan.b_kmajor, &ma, &mb) &&
                    encode_tma_map(ma, &maps.a, &why) && encode_tma_map(mb, &maps.b, &why);
    if (ok) {
      maps.ctas = static_cast<int32_t>(plan.ctas);
    } else {  // e.g. a driver without cuTensorMapEncodeTiled: the sm80 kernel takes the call
      backend::log(backend::LogLevel::debug, "cuda: gemm sm90 unavailable (" + why + "), running sm80");
      plan = plan_gemm(s, dev_.gemm_facts(), GemmForce::sm80, dev_.tuning().gemm);
    }
  }
  d.b_kmajor = plan.b_kmajor ? 1 : 0;
  d.splits = plan.splits;
  const std::string what = std::string("gemm ") + gemm_path_name(plan.path) + " [" + std::to_string(d.batch) +
                           ", " + std::to_string(d.M) + ", " + std::to_string(d.N) +
                           ", K=" + std::to_string(d.K) + "] " + dtype_name(s.a) + " x " + dtype_name(s.b);
  // The sm80 and simt kernels put M tiles (64 rows or more) in grid.y, at most 65535:
  // taller calls run in row chunks. gemv (M <= 16) and the persistent sm90 kernel have no
  // such limit.
  const bool tiled_grid = plan.path == GemmPath::sm80 || plan.path == GemmPath::simt;
  const int64_t chunk_rows = tiled_grid ? int64_t{65535} * 64 : d.M;
  for (int64_t m0 = 0; m0 < d.M; m0 += chunk_rows) {
    GemmDesc dc = d;  // one chunk of all M rows is d itself
    dc.M = std::min(chunk_rows, d.M - m0);
    dc.a = slice_desc(d.a, 2, m0, dc.M);
    dc.c = slice_desc(d.c, 2, m0, dc.M);
    if (dc.splits > 1)
      dc.partial = static_cast<float*>(workspace(
          static_cast<uint64_t>(dc.splits) * static_cast<uint64_t>(dc.batch * dc.M * dc.N) * sizeof(float)));
    switch (plan.path) {
      case GemmPath::gemv: check_launch(launch_gemv(dc, stream_), what); break;
      case GemmPath::sm80: check_launch(launch_gemm_sm80(dc, plan.tile, stream_), what); break;
      case GemmPath::sm90: check_launch(launch_gemm_sm90(dc, plan.tile, maps, stream_), what); break;
      case GemmPath::simt: check_launch(launch_gemm_simt(dc, plan.tile, stream_), what); break;
    }
    if (dc.splits > 1) check_launch(launch_gemm_reduce(dc, stream_), what + " (split-K reduce)");
  }
}

}  // namespace porta::cuda
