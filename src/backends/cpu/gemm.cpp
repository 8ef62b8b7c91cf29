// cpu GEMM driver: C = act(alpha * A.B + beta * C + bias) over strided batches.
//
// Large products follow BLIS: jc (nc columns) -> pc (kc depth) -> ic (mc rows) -> jr -> ir
// around a packed register-tile micro-kernel (gemm_microkernel.h). The threads of a team
// pack each kc x nc panel of B together (double-buffered, one barrier per panel), then
// each computes its own rows (or panel columns, when M is short) from its own packed A.
// Small M (decode) streams B once without packing. Many small entries of a batch run one
// per thread. Partial sums over K live in C when C is f32 with unit column stride, else
// in a per-thread f32 workspace; the epilogue (bias, activation, dtype) runs on the last
// K block while the tile is still in cache.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/convert.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/gemm_pack.h"

namespace porta::cpu {
namespace {

// Rows up to which B is streamed unpacked; measured here, M=16 ran ~2x faster packed.
constexpr int64_t kSmallM = 8;
constexpr int64_t kWorkspaceRows = 1024;   // rows per thread of the f32 workspace (non-f32 C)
constexpr int64_t kWorkspaceCols = 1024;   // panel width used with the workspace
constexpr int64_t kSmallAccFloats = 4096;  // small-M accumulators per task (16 KiB, L1)

/// 64-byte aligned float scratch that only grows; one per thread (thread_local) or per call.
class AlignedScratch {
 public:
  float* get(int64_t n) {
    if (n > size_) {
      const auto bytes = static_cast<size_t>((n * 4 + 63) / 64 * 64);
      void* p = std::aligned_alloc(64, bytes);
      if (!p)
        throw Error(Errc::out_of_memory,
                    "gemm: cannot allocate " + std::to_string(bytes) + " bytes of packing scratch");
      data_.reset(static_cast<float*>(p));
      size_ = n;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

/// Sense-reversing barrier for a team of `n` pool threads; spins briefly, then yields
/// (the cores may be shared with other work).
class SpinBarrier {
 public:
  void wait(int n) {
    const unsigned phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.store(phase + 1u, std::memory_order_release);
      return;
    }
    for (int spin = 0; phase_.load(std::memory_order_acquire) == phase; ++spin) {
      if (spin > 4000) std::this_thread::yield();
#if defined(PORTA_CPU_X86)
      else
        __builtin_ia32_pause();
#endif
    }
  }

  /// A thread could not start (allocation failed); the others see it after the next wait.
  void fail() { failed_.store(true, std::memory_order_relaxed); }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> phase_{0};
  std::atomic<bool> failed_{false};
};

/// Start of part i of `parts` over [0, extent), cut at multiples of `align`.
int64_t split(int64_t extent, int64_t parts, int64_t align, int64_t i) {
  const int64_t units = (extent + align - 1) / align;
  return std::min(extent, units * i / parts * align);
}

/// One matrix product of the batch (several batch entries when B is shared and A and C
/// rows continue from one entry to the next: then they fold into M).
struct Entry {
  GemmMatrix a, b, c;
  int64_t M;
};

/// What every part of the call shares.
struct Call {
  const GemmMicrokernel& kern;
  const GemmArgs& g;
  int64_t N, K;
  const float* bias;                  // f32 [N] or null
  bool epilogue;                      // bias or activation present
  const GemmBSource* bsrc = nullptr;  // B packs itself (gemm_source_b), else e.b is packed

  /// C rows [r0, r0+rows) x columns [c0, c0+cols) = act(src + beta*C_old + bias), where
  /// src (f32, row stride lds) already holds alpha*A.B. tmp holds 2*cols floats.
  void finish(const Entry& e, const float* src, int64_t lds, int64_t r0, int64_t rows, int64_t c0,
              int64_t cols, float* tmp) const {
    const DType ct = e.c.dtype;
    float* old = tmp + cols;
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t r = r0 + i;
      std::copy_n(src + i * lds, cols, tmp);
      if (g.beta != 0.0f) {
        if (e.c.cs == 1)
          convert_row_to_f32(ct, e.c.at(r, c0), old, cols);
        else
          for (int64_t j = 0; j < cols; ++j) old[j] = load_f32(ct, e.c.at(r, c0 + j), 0);
        for (int64_t j = 0; j < cols; ++j) tmp[j] += g.beta * old[j];
      }
      if (epilogue) kern.bias_act(tmp, cols, bias ? bias + c0 : nullptr, g.activation);
      char* dst = const_cast<char*>(e.c.at(r, c0));
      if (e.c.cs == 1)
        convert_row_from_f32(ct, tmp, dst, cols);
      else
        for (int64_t j = 0; j < cols; ++j) store_f32(ct, const_cast<char*>(e.c.at(r, c0 + j)), 0, tmp[j]);
    }
  }
};

// ---------------------------------------------------------------------------
// Packed, blocked path

/// Runs one entry on a team of `nth` threads (this is thread `tid`). b_pack points to two
/// kc x nc buffers shared by the team; bar is null when nth == 1.
void blocked(const Call& x, const Entry& e, int tid, int nth, SpinBarrier* bar, float* b_pack) {
  const GemmTileSizes& T = x.kern.tiles;
  const int64_t M = e.M, N = x.N, K = x.K;
  const bool direct = e.c.dtype == DType::f32 && e.c.cs == 1;
  const bool single_k = K <= T.kc;
  const bool workspace = !direct && !single_k;
  const int64_t nc = workspace ? std::min<int64_t>(T.nc, kWorkspaceCols / T.nr * T.nr) : T.nc;
  const int64_t pass_rows = workspace ? kWorkspaceRows * nth : M;

  // Scratch first, and every thread learns whether all got theirs before any barrier
  // that a failed thread would never reach.
  thread_local AlignedScratch a_scratch, w_scratch, tmp_scratch;
  float *a_pack = nullptr, *tmp = nullptr, *work = nullptr;
  std::exception_ptr error;
  try {
    a_pack = a_scratch.get(T.mc * T.kc);
    tmp = tmp_scratch.get(2 * T.nr + T.mr * T.nr);
    // Rows per thread: <= kWorkspaceRows when rows are split, < 4*mr*nth otherwise.
    if (workspace) work = w_scratch.get((std::max<int64_t>(kWorkspaceRows, 4 * T.mr * nth) + T.mr) * nc);
  } catch (...) {
    error = std::current_exception();
    if (bar) bar->fail();
  }
  if (bar) bar->wait(nth);
  if (error) std::rethrow_exception(error);
  if (bar && bar->failed()) return;
  float* edge = tmp + 2 * T.nr;  // mr x nr tile for edges and the single-K epilogue
  const int64_t panel_floats = T.kc * ((std::min(nc, N) + T.nr - 1) / T.nr * T.nr);
  int64_t step = 0;  // (jc, pc) steps so far: picks the B buffer

  for (int64_t m_pass = 0; m_pass < M; m_pass += pass_rows) {
    const int64_t ms = std::min(pass_rows, M - m_pass);
    // Thread grid: split rows when each thread gets a few register tiles, else columns.
    int gm = nth;
    while (gm > 1 && (nth % gm != 0 || ms / gm < 4 * T.mr)) --gm;
    const int gn = nth / gm;
    const int64_t r0 = m_pass + split(ms, gm, T.mr, tid / gn),
                  r1 = m_pass + split(ms, gm, T.mr, tid / gn + 1);

    for (int64_t jc = 0; jc < N; jc += nc) {
      const int64_t ncur = std::min(nc, N - jc), panels = (ncur + T.nr - 1) / T.nr;
      const int64_t p0 = split(panels, gn, 1, tid % gn), p1 = split(panels, gn, 1, tid % gn + 1);
      for (int64_t pc = 0; pc < K; pc += T.kc, ++step) {
        const int64_t kc = std::min(T.kc, K - pc);
        const bool first = pc == 0, last = pc + kc == K;
        float* bp = b_pack + (step & 1) * panel_floats;
        const int64_t q0 = panels * tid / nth, q1 = panels * (tid + 1) / nth;
        if (q0 < q1) {
          const int64_t n0 = jc + q0 * T.nr, ncols = std::min(ncur - q0 * T.nr, (q1 - q0) * T.nr);
          if (x.bsrc)
            x.bsrc->pack(x.bsrc->ctx, pc, kc, n0, ncols, bp + q0 * kc * T.nr);
          else
            gemm_pack_b(x.kern, e.b, pc, kc, n0, ncols, bp + q0 * kc * T.nr);
        }
        // Double buffering: after this barrier nobody still reads the buffer packed next.
        if (bar) bar->wait(nth);
        const float beta = first ? (direct ? x.g.beta : 0.0f) : 1.0f;
        for (int64_t ic = r0; ic < r1; ic += T.mc) {
          const int64_t mc = std::min(T.mc, r1 - ic);
          gemm_pack_a(e.a, ic, mc, pc, kc, T.mr, a_pack);
          for (int64_t jp = p0; jp < p1; ++jp) {
            const int64_t j = jc + jp * T.nr, cols = std::min<int64_t>(T.nr, N - j);
            const float* bpanel = bp + jp * kc * T.nr;
            for (int64_t ir = 0; ir < mc; ir += T.mr) {
              const int64_t r = ic + ir, rows = std::min<int64_t>(T.mr, mc - ir);
              const float* apanel = a_pack + ir * kc;
              if (!direct && single_k) {  // one pass: tile -> epilogue -> C
                x.kern.tile(kc, apanel, bpanel, edge, T.nr, x.g.alpha, 0.0f);
                x.finish(e, edge, T.nr, r, rows, j, cols, tmp);
                continue;
              }
              float* dst;
              int64_t ldd;
              if (direct) {
                dst = reinterpret_cast<float*>(const_cast<char*>(e.c.at(r, j)));
                ldd = e.c.rs;
              } else {
                ldd = (p1 - p0) * T.nr;
                dst = work + (r - r0) * ldd + (jp - p0) * T.nr;
              }
              if (rows == T.mr && cols == T.nr) {
                x.kern.tile(kc, apanel, bpanel, dst, ldd, x.g.alpha, beta);
              } else {
                x.kern.tile(kc, apanel, bpanel, edge, T.nr, x.g.alpha, 0.0f);
                for (int64_t i = 0; i < rows; ++i)
                  for (int64_t jj = 0; jj < cols; ++jj) {
                    float& d = dst[i * ldd + jj];
                    d = edge[i * T.nr + jj] + (beta != 0.0f ? beta * d : 0.0f);
                  }
              }
              if (!last) continue;
              if (!direct)
                x.finish(e, dst, ldd, r, rows, j, cols, tmp);
              else if (x.epilogue)
                for (int64_t i = 0; i < rows; ++i)
                  x.kern.bias_act(dst + i * ldd, cols, x.bias ? x.bias + j : nullptr, x.g.activation);
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Small-M path: B streamed once, unpacked, converted in registers.

void small_m(const Call& x, const Entry& e, int64_t n0, int64_t n1) {
  const int64_t M = e.M, K = x.K;
  thread_local AlignedScratch a_scratch, acc_scratch, tmp_scratch;
  const float* a = reinterpret_cast<const float*>(e.a.base);
  int64_t lda = e.a.rs;
  if (e.a.dtype != DType::f32 || e.a.cs != 1) {
    float* conv = a_scratch.get(M * K);
    for (int64_t m = 0; m < M; ++m) {
      if (e.a.cs == 1)
        convert_row_to_f32(e.a.dtype, e.a.at(m, 0), conv + m * K, K);
      else
        for (int64_t k = 0; k < K; ++k) conv[m * K + k] = load_f32(e.a.dtype, e.a.at(m, k), 0);
    }
    a = conv;
    lda = K;
  }
  const bool by_cols = e.b.rs == 1 && (e.b.cs != 1 || x.N < 8);  // dot products along K
  const int64_t width = std::max<int64_t>(16, kSmallAccFloats / M / 16 * 16);
  float* acc = acc_scratch.get(M * width);
  float* tmp = tmp_scratch.get(2 * width);
  for (int64_t j = n0; j < n1; j += width) {
    const int64_t n = std::min(width, n1 - j);
    if (by_cols)
      x.kern.small_m_cols(M, K, a, lda, e.b.dtype, e.b.at(0, j), e.b.cs, n, acc, width);
    else
      x.kern.small_m_rows(M, K, a, lda, e.b.dtype, e.b.at(0, j), e.b.rs, n, acc, width);
    for (int64_t i = 0; i < M * width; i += width)  // alpha first: finish() adds beta*C
      for (int64_t jj = 0; jj < n; ++jj) acc[i + jj] *= x.g.alpha;
    x.finish(e, acc, width, 0, M, j, n, tmp);
  }
}

GemmMatrix matrix(const TensorArg& t, int64_t bi) {
  const auto es = static_cast<int64_t>(dtype_size(t.dtype));
  return {t.host<char>() + bi * t.strides[0] * es, t.dtype, t.strides[1], t.strides[2]};
}

void gemm_impl(ThreadPool& pool, const GemmArgs& g, const GemmBSource* bsrc) {
  const GemmMicrokernel& kern = gemm_microkernel();
  const int64_t batch = g.c.shape[0], M = g.c.shape[1], N = g.c.shape[2], K = g.a.shape[2];

  std::vector<float> bias;
  if (g.bias) {
    bias.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n)
      bias[static_cast<size_t>(n)] = load_f32(g.bias->dtype, g.bias->host<char>(), n * g.bias->strides[0]);
  }
  const Call x{kern,
               g,
               N,
               K,
               g.bias ? bias.data() : nullptr,
               g.bias != nullptr || g.activation != ops::Activation::none,
               bsrc};

  // Batch entries sharing B whose A and C rows run on across entries fold into one product.
  const bool fold = !bsrc && batch > 1 && g.b.strides[0] == 0 && g.a.strides[0] == M * g.a.strides[1] &&
                    g.c.strides[0] == M * g.c.strides[1];
  const int64_t entries = fold ? 1 : batch, rows = fold ? batch * M : M;
  auto entry = [&](int64_t bi) {
    return Entry{matrix(g.a, bi), bsrc ? GemmMatrix{} : matrix(g.b, bi), matrix(g.c, bi), rows};
  };
  const int nth = pool.size();

  const Entry e0 = entry(0);
  if (!bsrc && rows <= kSmallM && (e0.b.rs == 1 || e0.b.cs == 1)) {
    // Tasks: entries x column slices, about one slice per thread and entry.
    const int64_t slices = entries >= nth ? 1 : (nth + entries - 1) / entries;
    const int64_t slice = std::max<int64_t>(16, (N + slices - 1) / slices + 15) / 16 * 16;
    const int64_t per_entry = (N + slice - 1) / slice;
    pool.parallel_for(entries * per_entry, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n0 = (t % per_entry) * slice;
        small_m(x, entry(t / per_entry), n0, std::min(N, n0 + slice));
      }
    });
    return;
  }

  const GemmTileSizes& T = kern.tiles;
  const int64_t panel_floats = T.kc * ((std::min(T.nc, N) + T.nr - 1) / T.nr * T.nr);
  const double entry_flops =
      2.0 * static_cast<double>(rows) * static_cast<double>(N) * static_cast<double>(K);
  if (!bsrc && entries >= nth && (entries >= 4 * nth || entry_flops < 64e6)) {
    // Many entries: one per thread at a time, each with its own B buffers.
    pool.parallel_for(entries, 1, [&](int64_t b0, int64_t b1) {
      thread_local AlignedScratch b_scratch;
      float* bp = b_scratch.get(2 * panel_floats);
      for (int64_t bi = b0; bi < b1; ++bi) blocked(x, entry(bi), 0, 1, nullptr, bp);
    });
    return;
  }
  thread_local AlignedScratch b_scratch;  // the calling thread's; the team shares it
  float* bp = b_scratch.get(2 * panel_floats);
  for (int64_t bi = 0; bi < entries; ++bi) {
    const Entry e = entry(bi);
    SpinBarrier bar;
    pool.run(nth, [&](int tid, int n) { blocked(x, e, tid, n, n > 1 ? &bar : nullptr, bp); });
  }
}

}  // namespace

void gemm(ThreadPool& pool, const GemmArgs& g) { gemm_impl(pool, g, nullptr); }

void gemm_source_b(ThreadPool& pool, const GemmArgs& g, const GemmBSource& b) { gemm_impl(pool, g, &b); }

}  // namespace porta::cpu
