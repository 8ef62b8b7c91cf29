// Kernel-only microbench of quant_gemv_digits_avx2 (the whole kernel, no driver or threads):
// N x K int4 codes (hash), f16 scales 2^-7, activations sin(0.37 i) split into D = 3 digits
// (D2=1: 2). Prints the best of 9 rounds as cycles per row and 128 weights at 3.63 GHz (the
// Zen 4 host's clock, measured with a chain of dependent vpaddd) and the NMSE against a
// double-precision sum (valid when the group divides K). Build from the repository root:
//   g++ -O3 -DNDEBUG -std=c++17 -DPORTA_CPU_X86 -mavx2 -mfma -mf16c -Isrc -Iinclude \
//     -DKFILE=$PWD/src/backends/cpu/quant_gemv_digits_avx2.cpp kernel_microbench.cpp -o mb
//   ./mb 384 4096 260 128      # N K iterations group
#define STR2(x) #x
#define STR(x) STR2(x)
#include STR(KFILE)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
using namespace porta::cpu;
int main(int argc, char** argv) {
  int64_t N = argc > 1 ? atoll(argv[1]) : 384, K = argc > 2 ? atoll(argv[2]) : 4096;
  int iters = argc > 3 ? atoi(argv[3]) : 200;
  int64_t group = argc > 4 ? atoll(argv[4]) : 128;
  std::vector<uint8_t> codes(N * K / 2);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = (i * 2654435761u) >> 13;
  int64_t G = K / group;
  std::vector<uint16_t> sc(N * G, 0x2000);
  QuantRows w{porta::QuantFormat::int4, K, group, codes.data(), K / 2, (const char*)sc.data(), porta::DType::f16, G, 1, nullptr, 0, 0};
  std::vector<float> x(K), xr(K), xsum(G + 16), unit(K / 128 + 32), y(N);
  for (int64_t i = 0; i < K; ++i) x[i] = std::sin(i * 0.37f);
  std::vector<int8_t> xd(3 * K + 256);
  quant_split_digits_avx2(x.data(), K, getenv("D2") ? 2 : 3, 64, xr.data(), xd.data(), unit.data());
  { const int64_t P = group < 128 ? group : 128, slots = (K + P - 1) / P; std::vector<float> us((slots + 15) / 16 * 16, 0.0f);
    for (int64_t i = 0; i < slots; ++i) us[i] = unit[i * P / 128]; unit = us; }
  for (int64_t g = 0; g < G; ++g) { float s = 0; for (int64_t j = g * group; j < (g + 1) * group; ++j) s += xr[j]; xsum[g] = s; }
  QuantGemvArgs a{};
  a.w = &w; a.M = 1; a.x = xr.data(); a.ldx = K; a.xsum = xsum.data(); a.y = y.data(); a.ldy = N;
  a.xd = xd.data(); a.unit = unit.data(); a.digits = getenv("D2") ? 2 : 3;
  double best = 1e9;
  for (int r = 0; r < 9; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) quant_gemv_digits_avx2(a, 0, N);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters);
  }
  // reference check
  double err = 0, den = 0;
  for (int64_t n = 0; n < N; ++n) { double s = 0; for (int64_t j = 0; j < K; ++j) s += (quant_nibble(codes.data() + n * K / 2, j) - 8.0) * xr[j] * 0.0078125 /*f16 0x2000*/; err += (s - y[n]) * (s - y[n]); den += s * s; }
  printf("N=%lld K=%lld g=%lld: %.2f us, %.1f Gw/s, %.1f cycles/128w/row, nmse %.1e\n", (long long)N, (long long)K, (long long)group, best * 1e6, N * K / best / 1e9, best * 3.63e9 / (N * K / 128.0), err / den);
}
float porta::cpu::quant_dot_scalar(const QuantRows&, const uint8_t*, int64_t, int64_t, const float*) { return 0; }
