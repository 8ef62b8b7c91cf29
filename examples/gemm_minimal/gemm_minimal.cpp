// The smallest useful porta program: C = A·B on the device PORTA_DEVICE selects.
//
//   PORTA_DEVICE=cpu ./gemm_minimal
#include <cmath>
#include <cstdio>
#include <vector>

#include "porta/porta.h"

int main() {
  try {
    porta::Device dev = porta::Device::select();  // PORTA_DEVICE, or "auto"
    porta::Stream stream(dev);
    std::printf("device: %s\n", dev.description().c_str());

    const int64_t M = 64, N = 48, K = 32;
    std::vector<float> a(M * K), b(K * N), c(M * N);
    for (int64_t i = 0; i < M * K; ++i) a[i] = static_cast<float>((i % 7) - 3) * 0.25f;
    for (int64_t i = 0; i < K * N; ++i) b[i] = static_cast<float>((i % 5) - 2) * 0.5f;

    porta::Tensor ta = porta::Tensor::from_host(stream, porta::DType::f32, {M, K}, a.data());
    porta::Tensor tb = porta::Tensor::from_host(stream, porta::DType::f32, {K, N}, b.data());
    porta::Tensor tc = porta::Tensor::empty(dev, porta::DType::f32, {M, N});

    porta::ops::gemm(stream, ta, tb, tc);  // enqueued; copy_to_host waits
    tc.copy_to_host(stream, c.data());

    double max_err = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double ref = 0;
        for (int64_t k = 0; k < K; ++k) ref += static_cast<double>(a[i * K + k]) * b[k * N + j];
        max_err = std::fmax(max_err, std::fabs(ref - c[i * N + j]));
      }
    std::printf("gemm %lldx%lldx%lld f32: max |error| = %.3g\n", static_cast<long long>(M),
                static_cast<long long>(N), static_cast<long long>(K), max_err);
    return max_err < 1e-3 ? 0 : 1;
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "gemm_minimal: %s\n", e.what());
    return 2;
  }
}
