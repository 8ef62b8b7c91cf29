// A program built against an INSTALLED porta (find_package or pkg-config).
// Runs a small GEMM and rms_norm on the device PORTA_DEVICE selects and checks
// both against a float64 computation on the host. Exit 0 on success.
#include <cmath>
#include <cstdio>
#include <vector>

#include "porta/porta.h"

namespace {

float value(int64_t i, int mod, float step) { return static_cast<float>((i * 7919) % mod - mod / 2) * step; }

// Normalised max error: max |out - ref| / max |ref|.
double rel_err(const std::vector<float>& out, const std::vector<double>& ref) {
  double e = 0, m = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    e = std::fmax(e, std::fabs(out[i] - ref[i]));
    m = std::fmax(m, std::fabs(ref[i]));
  }
  return m > 0 ? e / m : e;
}

}  // namespace

int main() {
  try {
    std::printf("porta %s\n", porta::version());
    porta::Device dev = porta::Device::select();
    porta::Stream s(dev);
    std::printf("device: %s\n", dev.description().c_str());

    // GEMM: C[M,N] = A[M,K] · B[K,N] with a bias and ReLU epilogue.
    const int64_t M = 17, N = 33, K = 40;
    std::vector<float> a(M * K), b(K * N), bias(N), c(M * N);
    for (int64_t i = 0; i < M * K; ++i) a[i] = value(i, 11, 0.125f);
    for (int64_t i = 0; i < K * N; ++i) b[i] = value(i + 3, 13, 0.0625f);
    for (int64_t i = 0; i < N; ++i) bias[i] = value(i, 5, 0.5f);
    auto ta = porta::Tensor::from_host(s, porta::DType::f32, {M, K}, a.data());
    auto tb = porta::Tensor::from_host(s, porta::DType::f32, {K, N}, b.data());
    auto tbias = porta::Tensor::from_host(s, porta::DType::f32, {N}, bias.data());
    auto tc = porta::Tensor::empty(dev, porta::DType::f32, {M, N});
    porta::ops::GemmOptions opt;
    opt.bias = &tbias;
    opt.activation = porta::ops::Activation::relu;
    porta::ops::gemm(s, ta, tb, tc, opt);
    tc.copy_to_host(s, c.data());
    std::vector<double> c_ref(M * N);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = bias[j];
        for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(a[i * K + k]) * b[k * N + j];
        c_ref[i * N + j] = acc > 0 ? acc : 0;
      }
    const double gemm_err = rel_err(c, c_ref);

    // rms_norm over rows of the GEMM result.
    std::vector<float> w(N), y(M * N);
    for (int64_t i = 0; i < N; ++i) w[i] = 0.5f + value(i, 7, 0.1f);
    auto tw = porta::Tensor::from_host(s, porta::DType::f32, {N}, w.data());
    auto ty = porta::Tensor::empty(dev, porta::DType::f32, {M, N});
    const float eps = 1e-6f;
    porta::ops::rms_norm(s, tc, tw, ty, eps);
    ty.copy_to_host(s, y.data());
    std::vector<double> y_ref(M * N);
    for (int64_t i = 0; i < M; ++i) {
      double ss = 0;
      for (int64_t j = 0; j < N; ++j) ss += static_cast<double>(c[i * N + j]) * c[i * N + j];
      const double inv = 1.0 / std::sqrt(ss / N + eps);
      for (int64_t j = 0; j < N; ++j) y_ref[i * N + j] = c[i * N + j] * inv * w[j];
    }
    const double norm_err = rel_err(y, y_ref);

    std::printf("gemm   %lldx%lldx%lld f32 + bias + relu: rel err %.3g\n", static_cast<long long>(M),
                static_cast<long long>(N), static_cast<long long>(K), gemm_err);
    std::printf("rms_norm [%lld, %lld] f32:            rel err %.3g\n", static_cast<long long>(M),
                static_cast<long long>(N), norm_err);
    const bool ok = gemm_err < 1e-5 && norm_err < 1e-5;
    std::printf("%s\n", ok ? "consumer: OK" : "consumer: FAILED");
    return ok ? 0 : 1;
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "consumer: porta error (%s): %s\n", porta::to_string(e.code()), e.what());
    return 2;
  }
}
