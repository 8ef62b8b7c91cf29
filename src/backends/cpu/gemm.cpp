// cpu GEMM driver: BLIS-style blocking (jc -> pc -> ic -> jr -> ir) around a packed
// register-tile micro-kernel, a streaming path for small M (decode), and the epilogue
// (alpha, beta, bias, activation, dtype and strides of C).
//
// Threads split the (batch, M, N) space into independent tasks, so each task runs a
// sequential blocked GEMM with its own packing buffers and no barriers.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_kernels.h"

namespace porta::cpu {
namespace {

/// A strided matrix of one batch entry: element (r, c) at base + (r*rs + c*cs) elements.
struct Mat {
  const char* base;
  DType t;
  int64_t rs, cs;
  int64_t es() const { return static_cast<int64_t>(dtype_size(t)); }
  const char* at(int64_t r, int64_t c) const { return base + (r * rs + c * cs) * es(); }
};

Mat mat(const TensorArg& x, int64_t batch) {
  const auto es = static_cast<int64_t>(dtype_size(x.dtype));
  return {x.host<char>() + batch * x.strides[0] * es, x.dtype, x.strides[1], x.strides[2]};
}

inline float activate(ops::Activation act, float v) {
  switch (act) {
    case ops::Activation::none: return v;
    case ops::Activation::relu: return v > 0.0f ? v : 0.0f;
    case ops::Activation::gelu: {
      const float k = 0.7978845608028654f;
      return 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
    }
    case ops::Activation::silu: return v / (1.0f + std::exp(-v));
  }
  return v;
}

/// Float aligned scratch, grown on demand and reused across calls on this thread.
float* scratch(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n + 16) v.resize(static_cast<size_t>(n + 16));
  auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}

// A block rows [m0, m0+mc) x depth [k0, k0+kc) into MR-row panels, k-major, zero-padded.
void pack_a(const GemmKernels& K, const Mat& a, int64_t m0, int64_t mc, int64_t k0, int64_t kc, float* dst,
            float* row) {
  const int mr = K.tiles.mr;
  for (int64_t p = 0; p * mr < mc; ++p) {
    float* panel = dst + p * kc * mr;
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - p * mr));
    if (a.rs == 1 && rows == mr) {  // columns of the panel are contiguous (transposed A)
      for (int64_t k = 0; k < kc; ++k) K.to_f32(a.t, a.at(m0 + p * mr, k0 + k), panel + k * mr, mr);
      continue;
    }
    for (int i = 0; i < mr; ++i) {
      if (i >= rows) {
        for (int64_t k = 0; k < kc; ++k) panel[k * mr + i] = 0.0f;
        continue;
      }
      const int64_t r = m0 + p * mr + i;
      if (a.cs == 1) {
        K.to_f32(a.t, a.at(r, k0), row, kc);
        for (int64_t k = 0; k < kc; ++k) panel[k * mr + i] = row[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) panel[k * mr + i] = load_f32(a.t, a.at(r, k0 + k), 0);
      }
    }
  }
}

// B panel depth [k0, k0+kc) x cols [n0, n0+nc) into NR-column panels, k-major, zero-padded.
void pack_b(const GemmKernels& K, const Mat& b, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst,
            float* row) {
  const int nr = K.tiles.nr;
  const int64_t panels = (nc + nr - 1) / nr;
  if (b.cs == 1) {  // rows of B are contiguous: convert a row, deal it out to the panels
    for (int64_t k = 0; k < kc; ++k) {
      K.to_f32(b.t, b.at(k0 + k, n0), row, nc);
      for (int64_t p = 0; p < panels; ++p) {
        float* out = dst + p * kc * nr + k * nr;
        const int64_t cols = std::min<int64_t>(nr, nc - p * nr);
        std::copy_n(row + p * nr, cols, out);
        std::fill(out + cols, out + nr, 0.0f);
      }
    }
    return;
  }
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = dst + p * kc * nr;
    const int64_t cols = std::min<int64_t>(nr, nc - p * nr);
    for (int64_t j = 0; j < nr; ++j) {
      if (j >= cols) {
        for (int64_t k = 0; k < kc; ++k) panel[k * nr + j] = 0.0f;
        continue;
      }
      if (b.rs == 1) {  // columns contiguous (weights stored [N, K])
        K.to_f32(b.t, b.at(k0, n0 + p * nr + j), row, kc);
        for (int64_t k = 0; k < kc; ++k) panel[k * nr + j] = row[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) panel[k * nr + j] = load_f32(b.t, b.at(k0 + k, n0 + p * nr + j), 0);
      }
    }
  }
}

struct Epilogue {
  const GemmArgs& g;
  Mat c;  // destination of this batch entry
  std::vector<float> bias;
  /// No bias and no activation: the last K block needs no per-element work.
  bool plain() const { return bias.empty() && g.activation == ops::Activation::none; }
  float finish(float v, int64_t col) const {
    if (!bias.empty()) v += bias[static_cast<size_t>(col)];
    return activate(g.activation, v);
  }
  float old(int64_t r, int64_t col) const {
    return g.beta != 0.0f ? g.beta * load_f32(c.t, c.at(r, col), 0) : 0.0f;
  }
  void store(int64_t r, int64_t col, float v) const { store_f32(c.t, const_cast<char*>(c.at(r, col)), 0, v); }
};

// One task: rows [m0, m1) and cols [n0, n1) of batch entry `bi`, sequential.
void gemm_block(const GemmKernels& K, const GemmArgs& g, const Epilogue& ep, int64_t bi, int64_t m0,
                int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<float> a_buf, b_buf, row_buf, work_buf;
  const auto& T = K.tiles;
  const Mat a = mat(g.a, bi), b = mat(g.b, bi);
  const int64_t Kd = g.a.shape[2];
  const int64_t mcap = ((std::min(T.mc, m1 - m0) + T.mr - 1) / T.mr) * T.mr;
  const int64_t ncap = ((std::min(T.nc, n1 - n0) + T.nr - 1) / T.nr) * T.nr;
  float* ap = scratch(a_buf, mcap * T.kc);
  float* bp = scratch(b_buf, ncap * T.kc);
  float* row = scratch(row_buf, std::max(T.kc, T.nc) + 64);
  // Partial sums between K blocks: in C itself when C is f32 with unit column stride,
  // else in an f32 workspace (rows of this task x one column panel).
  const bool direct = ep.c.t == DType::f32 && ep.c.cs == 1;
  const bool multi_k = Kd > T.kc;
  float* work = (!direct && multi_k) ? scratch(work_buf, (m1 - m0) * ncap) : nullptr;
  alignas(64) float tile[8 * 32];

  for (int64_t jc = n0; jc < n1; jc += T.nc) {
    const int64_t nc = std::min(T.nc, n1 - jc);
    for (int64_t pc = 0; pc < Kd; pc += T.kc) {
      const int64_t kc = std::min(T.kc, Kd - pc);
      const bool first = pc == 0, last = pc + kc == Kd;
      pack_b(K, b, pc, kc, jc, nc, bp, row);
      for (int64_t ic = m0; ic < m1; ic += T.mc) {
        const int64_t mc = std::min(T.mc, m1 - ic);
        pack_a(K, a, ic, mc, pc, kc, ap, row);
        for (int64_t jr = 0; jr < nc; jr += T.nr) {
          const int64_t cols = std::min<int64_t>(T.nr, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += T.mr) {
            const int64_t rows = std::min<int64_t>(T.mr, mc - ir);
            K.micro(kc, ap + (ir / T.mr) * kc * T.mr, bp + (jr / T.nr) * kc * T.nr, tile);
            if (direct && rows == T.mr && cols == T.nr && (!last || ep.plain())) {
              // Hot path: whole tile straight into f32 C, vectorised.
              float* c = reinterpret_cast<float*>(const_cast<char*>(ep.c.at(ic + ir, jc + jr)));
              K.merge(tile, c, ep.c.rs, g.alpha, first ? g.beta : 1.0f);
              continue;
            }
            for (int64_t i = 0; i < rows; ++i) {
              const int64_t r = ic + ir + i;
              const float* t = tile + i * T.nr;
              float* direct_row =
                  direct ? reinterpret_cast<float*>(const_cast<char*>(ep.c.at(r, jc + jr))) : nullptr;
              float* work_row = work ? work + (r - m0) * ncap + jr : nullptr;
              for (int64_t j = 0; j < cols; ++j) {
                const int64_t col = jc + jr + j;
                float v = g.alpha * t[j];
                if (first)
                  v += ep.old(r, col);
                else
                  v += direct ? direct_row[j] : work_row[j];
                if (last)
                  ep.store(r, col, ep.finish(v, col));
                else if (direct)
                  direct_row[j] = v;
                else
                  work_row[j] = v;
              }
            }
          }
        }
      }
    }
  }
}

// Small M (decode): stream B once, converting on the fly; parallel over N.
void gemm_small_m(ThreadPool& pool, const GemmKernels& K, const GemmArgs& g, const Epilogue& proto) {
  const int64_t batch = g.c.shape[0], M = g.a.shape[1], Kd = g.a.shape[2], N = g.b.shape[2];
  for (int64_t bi = 0; bi < batch; ++bi) {
    const Mat a = mat(g.a, bi), b = mat(g.b, bi);
    Epilogue ep{g, mat(g.c, bi), proto.bias};
    std::vector<float> arows(static_cast<size_t>(M * Kd));
    for (int64_t m = 0; m < M; ++m) {
      if (a.cs == 1)
        K.to_f32(a.t, a.at(m, 0), arows.data() + m * Kd, Kd);
      else
        for (int64_t k = 0; k < Kd; ++k)
          arows[static_cast<size_t>(m * Kd + k)] = load_f32(a.t, a.at(m, k), 0);
    }
    // Columns per task: dot products need few; axpy over rows wants long contiguous runs
    // of each B row, so one slice per thread.
    const int64_t chunk = b.rs == 1 ? 8 : std::max<int64_t>(256, ((N + pool.size() - 1) / pool.size() + 63) / 64 * 64);
    const int64_t tasks = (N + chunk - 1) / chunk;
    pool.parallel_for(tasks, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(Kd * chunk / 64, 1)),
                      [&](int64_t t0, int64_t t1) {
                        std::vector<float> acc(static_cast<size_t>(M * chunk));
                        for (int64_t t = t0; t < t1; ++t) {
                          const int64_t c0 = t * chunk, cols = std::min(chunk, N - c0);
                          if (b.rs == 1) {  // columns of B contiguous along K: dot products
                            for (int64_t j = 0; j < cols; ++j)
                              for (int64_t m = 0; m < M; ++m)
                                acc[static_cast<size_t>(m * chunk + j)] =
                                    K.dot(arows.data() + m * Kd, b.t, b.at(0, c0 + j), Kd);
                          } else {  // rows of B contiguous: axpy over K
                            std::fill(acc.begin(), acc.end(), 0.0f);
                            for (int64_t k = 0; k < Kd; ++k)
                              for (int64_t m = 0; m < M; ++m)
                                K.axpy(arows[static_cast<size_t>(m * Kd + k)], b.t, b.at(k, c0),
                                       acc.data() + m * chunk, cols);
                          }
                          for (int64_t m = 0; m < M; ++m)
                            for (int64_t j = 0; j < cols; ++j) {
                              const float v =
                                  g.alpha * acc[static_cast<size_t>(m * chunk + j)] + ep.old(m, c0 + j);
                              ep.store(m, c0 + j, ep.finish(v, c0 + j));
                            }
                        }
                      });
  }
}

}  // namespace

void gemm(ThreadPool& pool, const GemmArgs& g) {
  const GemmKernels& K = gemm_kernels();
  const int64_t batch = g.c.shape[0], M = g.c.shape[1], N = g.c.shape[2];
  Epilogue proto{g, mat(g.c, 0), {}};
  if (g.bias) {
    proto.bias.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n)
      proto.bias[static_cast<size_t>(n)] =
          load_f32(g.bias->dtype, g.bias->host<char>(), n * g.bias->strides[0]);
  }
  const Mat b0 = mat(g.b, 0);
  if (M <= 4 && (b0.rs == 1 || b0.cs == 1)) return gemm_small_m(pool, K, g, proto);

  // Tasks: batch entries first, then split the larger of M and N into tile-aligned parts.
  const int64_t threads = pool.size();
  int64_t gm = 1, gn = 1;
  if (batch < threads) {
    const int64_t parts = (threads + batch - 1) / batch;
    const int64_t max_m = (M + K.tiles.mr - 1) / K.tiles.mr, max_n = (N + K.tiles.nr - 1) / K.tiles.nr;
    if (N >= M) {
      gn = std::min(parts, max_n);
      gm = std::min((parts + gn - 1) / gn, max_m);
    } else {
      gm = std::min(parts, max_m);
      gn = std::min((parts + gm - 1) / gm, max_n);
    }
  }
  auto split = [](int64_t extent, int64_t parts, int64_t align, int64_t i) {
    const int64_t units = (extent + align - 1) / align;
    return std::min(extent, (units * i / parts) * align);
  };
  pool.parallel_for(batch * gm * gn, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / (gm * gn), im = (t / gn) % gm, in = t % gn;
      const int64_t m0 = split(M, gm, K.tiles.mr, im), m1 = split(M, gm, K.tiles.mr, im + 1);
      const int64_t n0 = split(N, gn, K.tiles.nr, in), n1 = split(N, gn, K.tiles.nr, in + 1);
      if (m0 >= m1 || n0 >= n1) continue;
      Epilogue ep{g, mat(g.c, bi), proto.bias};
      gemm_block(K, g, ep, bi, m0, m1, n0, n1);
    }
  });
}

}  // namespace porta::cpu
