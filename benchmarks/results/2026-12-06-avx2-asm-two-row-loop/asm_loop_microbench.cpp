// The assembly loop alone (digit_windows<3, 0>, quant_digit_windows_avx2.h) over NR rows
// (default 2; NR=384: 768 KiB of codes, L2-resident) of 4096 int4 codes, 32 spans per call,
// constant factors: cycles per row and 128 weights at 3.63 GHz, best of 7 rounds. Build as
// kernel_microbench.cpp (it includes the kernel file for the header and its helpers).
#define STR2(x) #x
#define STR(x) STR2(x)
#include STR(KFILE)
#include <chrono>
#include <cstdio>
#include <vector>
using namespace porta::cpu;
float porta::cpu::quant_dot_scalar(const QuantRows&, const uint8_t*, int64_t, int64_t, const float*) { return 0; }
int main() {
  const int64_t K = 4096, nw = K / 128;
  const int64_t NR = getenv("NR") ? atoi(getenv("NR")) : 2;
  std::vector<uint8_t> codes(NR * K / 2); for (size_t i = 0; i < codes.size(); ++i) codes[i] = (i * 2654435761u) >> 13;
  std::vector<int8_t> xd(3 * K); for (size_t i = 0; i < xd.size(); ++i) xd[i] = int8_t((i * 40503u >> 5) % 129) - 64;
  std::vector<float> f(64, 1.0f);
  alignas(32) float s0[8] = {}, s1[8] = {};
  const int iters = 400000 / NR;
  double best = 1e9;
  for (int r = 0; r < 7; ++r) {
    auto a = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i)
      for (int64_t rr = 0; rr < NR; rr += 2) digit_windows<3, 0>({codes.data() + rr * K / 2, codes.data() + (rr + 1) * K / 2, xd.data(), f.data(), f.data() + 32, nw, 2 * K / 2, s0, s1});
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  float o[1] = {s0[0] + s1[0]};
  printf("%.2f cycles per row-window (%g)\n", best * 3.63e9 / (iters * nw * (double)NR), o[0]);
}
