// Portable GEMM inner loops (any CPU; fixed-size loops the compiler vectorises) and the
// CPUID choice of the best kernel set.
#include <atomic>
#include <cmath>
#include <string>

#include "backends/cpu/cpu_features.h"
#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_microkernel.h"

namespace porta::cpu {
namespace {

constexpr int kMr = 4, kNr = 8;

void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMr, b += kNr)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < kMr; ++i)
    for (int j = 0; j < kNr; ++j)
      c[i * ldc + j] = alpha * acc[i][j] + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0f);
}

void bias_act(float* row, int64_t n, const float* bias, ops::Activation act) {
  for (int64_t j = 0; j < n; ++j) row[j] = gemm_activate(act, row[j] + (bias ? bias[j] : 0.0f));
}

void small_m_rows(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                  int64_t n, float* acc, int64_t ldacc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < n; ++j) acc[m * ldacc + j] = 0.0f;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < n; ++j) {
      const float bv = load_f32(bt, b, k * ldb + j);
      for (int64_t m = 0; m < M; ++m) acc[m * ldacc + j] += a[m * lda + k] * bv;
    }
}

void small_m_cols(int64_t M, int64_t K, const float* a, int64_t lda, DType bt, const void* b, int64_t ldb,
                  int64_t n, float* acc, int64_t ldacc) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t m = 0; m < M; ++m) {
      float s = 0.0f;
      for (int64_t k = 0; k < K; ++k) s += a[m * lda + k] * load_f32(bt, b, j * ldb + k);
      acc[m * ldacc + j] = s;
    }
}

}  // namespace

void gemm_pack_b_rows_generic(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols,
                              float* dst) {
  const int64_t panels = (cols + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t k = 0; k < kc; ++k)
      for (int j = 0; j < nr; ++j) {
        const int64_t c = p * nr + j;
        dst[(p * kc + k) * nr + j] = c < cols ? load_f32(t, src, k * ld + c) : 0.0f;
      }
}

void gemm_pack_b_cols_generic(int nr, DType t, const void* src, int64_t ld, int64_t kc, int64_t cols,
                              float* dst) {
  const int64_t panels = (cols + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p)
    for (int j = 0; j < nr; ++j) {
      const int64_t c = p * nr + j;
      for (int64_t k = 0; k < kc; ++k)
        dst[(p * kc + k) * nr + j] = c < cols ? load_f32(t, src, c * ld + k) : 0.0f;
    }
}

float gemm_activate(ops::Activation act, float v) {
  switch (act) {
    case ops::Activation::none: return v;
    case ops::Activation::relu: return v > 0.0f ? v : 0.0f;
    case ops::Activation::gelu:
      return 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case ops::Activation::silu: return v / (1.0f + std::exp(-v));
  }
  return v;
}

const GemmMicrokernel& gemm_microkernel_generic() {
  static const GemmMicrokernel k{"generic",
                                 {kMr, kNr, 256, 128, 2048},
                                 &tile,
                                 &bias_act,
                                 &small_m_rows,
                                 &small_m_cols,
                                 &gemm_pack_b_rows_generic,
                                 &gemm_pack_b_cols_generic};
  return k;
}

namespace {
// The best set this CPU runs, capped by the PORTA_CPU_GEMM_ISA ceiling (set once by the backend).
// 0 generic, 1 avx2, 2 avx512, then the quantized GEMV's AVX-512 extensions: 3 VNNI only,
// 4 BF16 only, 5 auto (either, by vendor: quant_kernels()).
std::atomic<int> g_isa_ceiling{5};

const GemmMicrokernel* choose(int ceiling) {
#if defined(PORTA_CPU_X86)
  const bool f16c = cpu::cpu_has_f16c() && __builtin_cpu_supports("fma");
  if (ceiling >= 2 && f16c && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return &gemm_microkernel_avx512();
  if (ceiling >= 1 && f16c && __builtin_cpu_supports("avx2")) return &gemm_microkernel_avx2();
#endif
  (void)ceiling;
  return &gemm_microkernel_generic();
}
}  // namespace

bool set_gemm_isa_ceiling(const std::string& isa) {
  const int c = isa == "generic"      ? 0
                : isa == "avx2"       ? 1
                : isa == "avx512"     ? 2
                : isa == "avx512vnni" ? 3
                : isa == "avx512bf16" ? 4
                : isa == "auto"       ? 5
                                      : -1;
  if (c < 0) return false;
  g_isa_ceiling.store(c);
  return true;
}

bool gemm_isa_bf16_allowed() { return g_isa_ceiling.load() >= 4; }
bool gemm_isa_vnni_allowed() { return g_isa_ceiling.load() == 3 || g_isa_ceiling.load() == 5; }

const GemmMicrokernel& gemm_microkernel() {
  // Chosen on first use, after the backend applied PORTA_CPU_GEMM_ISA.
  static const GemmMicrokernel* chosen = choose(g_isa_ceiling.load());
  return *chosen;
}

}  // namespace porta::cpu
