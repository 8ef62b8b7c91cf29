#include <cmath>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "porta/porta.h"
#include "porta/quant.h"
int main(int argc, char** argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 1024, k = argc > 2 ? atoll(argv[2]) : 4096;
  int iters = argc > 3 ? atoi(argv[3]) : 2000;
  auto dev = porta::Device::select("cpu");
  porta::Stream s(dev);
  porta::QuantHostWeight h;
  h.scheme = {porta::QuantFormat::int4, 128, porta::DType::f16};
  h.n = n; h.k = k;
  h.codes.resize(n * porta::quant_row_bytes(h.scheme.format, k));
  for (size_t i = 0; i < h.codes.size(); ++i) h.codes[i] = (i * 2654435761u) >> 13;
  h.scales.assign(n * h.scheme.groups(k), 0.01f);
  auto w = porta::QuantWeight::from_host(s, h);
  std::vector<float> xa(k);
  for (int64_t i = 0; i < k; ++i) xa[i] = std::sin(i * 0.37f);
  auto a = porta::Tensor::from_host(s, porta::DType::f32, {1, k}, xa.data());
  auto a16 = porta::Tensor::empty(dev, getenv("BF16") ? porta::DType::bf16 : porta::DType::f32, {1, k});
  porta::ops::cast(s, a, a16);
  a = a16;
  auto c = porta::Tensor::empty(dev, porta::DType::f32, {1, n});
  for (int i = 0; i < 50; ++i) porta::ops::gemm(s, a, w, c);
  s.synchronize();
  double sec = 1e9;
  for (int round = 0; round < 15; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) porta::ops::gemm(s, a, w, c);
    s.synchronize();
    sec = std::min(sec, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  double us = sec / iters * 1e6;
  printf("n=%lld k=%lld %.1f us/call, %.2f Gweights/s, %.1f GB/s\n", (long long)n, (long long)k, us,
         n * k / (sec / iters) / 1e9, w.nbytes() / (sec / iters) / 1e9);
}
