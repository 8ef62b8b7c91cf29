// CLBlast SGEMM as the OpenCL baseline, on the same OpenCL device as porta's (matched by
// device name), in its own context and queue. f32 only: CLBlast's HGEMM needs cl_khr_fp16,
// which PoCL's CPU device lacks, and it has no bf16 or mixed-dtype GEMM.
#define CL_TARGET_OPENCL_VERSION 120
#include <clblast.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "baseline.h"

namespace porta_bench {
namespace {

std::string device_name(cl_device_id d) {
  size_t n = 0;
  clGetDeviceInfo(d, CL_DEVICE_NAME, 0, nullptr, &n);
  std::string s(n, '\0');
  clGetDeviceInfo(d, CL_DEVICE_NAME, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

class ClBlastGemm final : public BaselineCase {
 public:
  ClBlastGemm(cl_context ctx, cl_command_queue q, const GemmProblem& p) : q_(q), p_(p) {
    const int copies = std::max(p.b_copies, 1);
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    a_ = make(ctx, static_cast<size_t>(p.m * p.k), rng, dist);
    b_ = make(ctx, static_cast<size_t>(p.k * p.n) * copies, rng, dist);
    c_ = make(ctx, static_cast<size_t>(p.m * p.n), rng, dist);
  }
  ~ClBlastGemm() override {
    for (cl_mem m : {a_, b_, c_})
      if (m) clReleaseMemObject(m);
  }
  bool ok() const { return a_ && b_ && c_; }
  void run() override {
    const size_t b_off = static_cast<size_t>(p_.k * p_.n) * static_cast<size_t>(next_b_);
    next_b_ = (next_b_ + 1) % std::max(p_.b_copies, 1);
    using clblast::Transpose;
    const auto st = clblast::Gemm<float>(
        clblast::Layout::kRowMajor, p_.trans_a ? Transpose::kYes : Transpose::kNo,
        p_.trans_b ? Transpose::kYes : Transpose::kNo, static_cast<size_t>(p_.m), static_cast<size_t>(p_.n),
        static_cast<size_t>(p_.k), 1.0f, a_, 0, static_cast<size_t>(p_.trans_a ? p_.m : p_.k), b_, b_off,
        static_cast<size_t>(p_.trans_b ? p_.k : p_.n), 0.0f, c_, 0, static_cast<size_t>(p_.n), &q_, nullptr);
    if (st != clblast::StatusCode::kSuccess)
      std::fprintf(stderr, "clblast: Gemm failed (%d)\n", static_cast<int>(st));
    clFinish(q_);
  }

 private:
  template <typename Rng, typename Dist>
  static cl_mem make(cl_context ctx, size_t n, Rng& rng, Dist& dist) {
    std::vector<float> h(n);
    for (auto& x : h) x = dist(rng);
    cl_int st = CL_SUCCESS;
    cl_mem m =
        clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float), h.data(), &st);
    return st == CL_SUCCESS ? m : nullptr;
  }
  cl_command_queue q_;
  GemmProblem p_;
  cl_mem a_ = nullptr, b_ = nullptr, c_ = nullptr;
  int next_b_ = 0;
};

class ClBlast final : public Baseline {
 public:
  ClBlast(cl_context ctx, cl_command_queue q, std::string device)
      : ctx_(ctx), q_(q), device_(std::move(device)) {}
  ~ClBlast() override {
    clReleaseCommandQueue(q_);
    clReleaseContext(ctx_);
  }
  std::string name() const override { return "clblast"; }
  std::string description() const override {
    return "CLBlast " + std::to_string(CLBLAST_VERSION_MAJOR) + "." + std::to_string(CLBLAST_VERSION_MINOR) +
           "." + std::to_string(CLBLAST_VERSION_PATCH) + " SGEMM on OpenCL device '" + device_ +
           "' (own context)";
  }
  std::unique_ptr<BaselineCase> prepare_gemm(const GemmProblem& p) override {
    using porta::DType;
    if (p.a != DType::f32 || p.b != DType::f32 || p.c != DType::f32) return nullptr;
    auto c = std::make_unique<ClBlastGemm>(ctx_, q_, p);
    if (!c->ok()) return nullptr;
    c->run();  // CLBlast compiles its kernels on first use: keep that out of the timing
    return c;
  }

 private:
  cl_context ctx_;
  cl_command_queue q_;
  std::string device_;
};

}  // namespace

std::unique_ptr<Baseline> make_clblast_baseline(const porta::Device& device) {
  cl_uint np = 0;
  if (clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return nullptr;
  std::vector<cl_platform_id> ps(np);
  clGetPlatformIDs(np, ps.data(), nullptr);
  for (cl_platform_id p : ps) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> ds(nd);
    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, ds.data(), nullptr);
    for (cl_device_id d : ds) {
      if (device_name(d) != device.info().name) continue;
      cl_int st = CL_SUCCESS;
      cl_context ctx = clCreateContext(nullptr, 1, &d, nullptr, nullptr, &st);
      if (st != CL_SUCCESS) return nullptr;
      cl_command_queue q = clCreateCommandQueue(ctx, d, 0, &st);
      if (st != CL_SUCCESS) {
        clReleaseContext(ctx);
        return nullptr;
      }
      return std::make_unique<ClBlast>(ctx, q, device.info().name);
    }
  }
  return nullptr;
}

}  // namespace porta_bench
