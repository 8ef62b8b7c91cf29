// cuBLAS (cublasGemmEx, f32 accumulation) as the baseline of the cuda backend. cuBLAS picks
// its cuBLASLt kernels by heuristic, as an engine calling it would. Operands live in their
// own device buffers (cudaMalloc) so the baseline needs nothing from porta; each timed run
// is measured with CUDA events, as porta's side is with porta::Event.
//
// libcublas is opened at run time (dlopen), not linked: porta-bench then starts on hosts
// without the CUDA toolkit (the air-gapped bundle carries no 600 MB of cuBLAS), and the
// baseline column is simply absent there.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "baseline.h"

namespace porta_bench {
namespace {

// The four cuBLAS entry points the baseline uses, from the library found at run time.
struct CublasApi {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasGetVersion_v2) get_version = nullptr;
  // cublasGemmEx has C++ overloads: spell out the C entry point's type.
  using GemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                    const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                                    int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                                    cublasGemmAlgo_t);
  GemmEx gemm_ex = nullptr;
  std::string library;

  static const CublasApi* load() {
    static const CublasApi api = [] {
      CublasApi a;
      const std::string versioned = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
      for (const std::string& name : {versioned, std::string("libcublas.so")}) {
        void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        a.create = reinterpret_cast<decltype(a.create)>(dlsym(h, "cublasCreate_v2"));
        a.destroy = reinterpret_cast<decltype(a.destroy)>(dlsym(h, "cublasDestroy_v2"));
        a.get_version = reinterpret_cast<decltype(a.get_version)>(dlsym(h, "cublasGetVersion_v2"));
        a.gemm_ex = reinterpret_cast<decltype(a.gemm_ex)>(dlsym(h, "cublasGemmEx"));
        a.library = name;
        if (a.create && a.destroy && a.get_version && a.gemm_ex) break;
        a = CublasApi();
      }
      if (!a.create)
        std::fprintf(stderr, "porta-bench: %s not loadable (%s); GEMM runs without the cuBLAS baseline\n",
                     versioned.c_str(), dlerror() ? "see dlerror" : "not found");
      return a;
    }();
    return api.create ? &api : nullptr;
  }
};

cudaDataType_t cuda_type(porta::DType t) {
  switch (t) {
    case porta::DType::f16: return CUDA_R_16F;
    case porta::DType::bf16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// Random host data in [-1, 1) converted to `t`, uploaded to a fresh device buffer. xorshift64*
// rather than mt19937: the 70B projections' operands are hundreds of millions of elements.
void* device_random(porta::DType t, size_t n, uint32_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  const size_t es = porta::dtype_size(t);
  std::vector<unsigned char> host(n * es);
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const float v =
        -1.0f + 2.0f * static_cast<float>((x * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
    if (t == porta::DType::f16) {
      const uint16_t h = porta::float_to_f16(v);
      std::memcpy(&host[i * 2], &h, 2);
    } else if (t == porta::DType::bf16) {
      const uint16_t h = porta::float_to_bf16(v);
      std::memcpy(&host[i * 2], &h, 2);
    } else {
      std::memcpy(&host[i * 4], &v, 4);
    }
  }
  void* d = nullptr;
  if (cudaMalloc(&d, host.size()) != cudaSuccess) return nullptr;
  cudaMemcpy(d, host.data(), host.size(), cudaMemcpyHostToDevice);
  return d;
}

class CublasGemm final : public BaselineCase {
 public:
  CublasGemm(const CublasApi& api, cublasHandle_t h, const GemmProblem& p) : api_(api), h_(h), p_(p) {
    a_ = device_random(p.a, static_cast<size_t>(p.m * p.k), 1);
    for (int i = 0; i < std::max(p.b_copies, 1); ++i)
      b_.push_back(device_random(p.b, static_cast<size_t>(p.k * p.n), 2 + static_cast<uint32_t>(i)));
    cudaMalloc(&c_, static_cast<size_t>(p.m * p.n) * porta::dtype_size(p.c));
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~CublasGemm() override {
    cudaFree(a_);
    for (void* b : b_) cudaFree(b);
    cudaFree(c_);
    if (start_) cudaEventDestroy(start_);
    if (stop_) cudaEventDestroy(stop_);
  }
  bool ok() const {
    if (!a_ || !c_ || !start_ || !stop_) return false;
    for (void* b : b_)
      if (!b) return false;
    return true;
  }
  void run() override {
    enqueue();
    cudaDeviceSynchronize();
  }
  // cuBLAS runs on the legacy default stream (the handle's); events there time the GEMM
  // itself, as porta's side is timed with its events.
  double timed_run_seconds() override {
    cudaEventRecord(start_, nullptr);
    enqueue();
    cudaEventRecord(stop_, nullptr);
    cudaEventSynchronize(stop_);
    float ms = 0;
    cudaEventElapsedTime(&ms, start_, stop_);
    return ms / 1e3;
  }
  bool device_timed() const override { return true; }

 private:
  void enqueue() {
    void* b = b_[next_];
    next_ = (next_ + 1) % b_.size();
    const float alpha = 1.0f, beta = 0.0f;
    const int m = static_cast<int>(p_.m), n = static_cast<int>(p_.n), k = static_cast<int>(p_.k);
    // Row-major C[M,N] = A·B is column-major Cᵀ[N,M] = Bᵀ·Aᵀ: swap the operands.
    const cublasStatus_t st = api_.gemm_ex(
        h_, p_.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p_.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha,
        b, cuda_type(p_.b), p_.trans_b ? k : n, a_, cuda_type(p_.a), p_.trans_a ? m : k, &beta, c_,
        cuda_type(p_.c), n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) std::fprintf(stderr, "porta-bench: cublasGemmEx failed (%d)\n", int(st));
  }

  const CublasApi& api_;
  cublasHandle_t h_;
  GemmProblem p_;
  void* a_ = nullptr;
  std::vector<void*> b_;
  void* c_ = nullptr;
  size_t next_ = 0;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

class Cublas final : public Baseline {
 public:
  Cublas(const CublasApi& api, int ordinal, cublasHandle_t h) : api_(api), ordinal_(ordinal), h_(h) {}
  ~Cublas() override { api_.destroy(h_); }
  std::string name() const override { return "cublas"; }
  std::string description() const override {
    int v = 0;
    api_.get_version(h_, &v);
    return "cuBLAS " + std::to_string(v) + " (" + api_.library +
           ") cublasGemmEx (CUBLAS_COMPUTE_32F, default algo), device " + std::to_string(ordinal_);
  }
  std::unique_ptr<BaselineCase> prepare_gemm(const GemmProblem& p) override {
    if (p.a != p.b) return nullptr;  // cublasGemmEx takes one input type
    auto c = std::make_unique<CublasGemm>(api_, h_, p);
    if (!c->ok()) return nullptr;
    return c;
  }

 private:
  const CublasApi& api_;
  int ordinal_;
  cublasHandle_t h_;
};

std::string uuid_hex(const cudaDeviceProp& prop) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    const auto byte = static_cast<unsigned char>(prop.uuid.bytes[i]);
    s += hex[byte >> 4];
    s += hex[byte & 15];
  }
  return s;
}

}  // namespace

std::unique_ptr<Baseline> make_cublas_baseline(const porta::Device& device) {
  const CublasApi* api = CublasApi::load();
  if (!api) return nullptr;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return nullptr;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess || uuid_hex(prop) != device.info().uuid) continue;
    cudaSetDevice(i);
    cublasHandle_t h = nullptr;
    if (api->create(&h) != CUBLAS_STATUS_SUCCESS) return nullptr;
    return std::make_unique<Cublas>(*api, i, h);
  }
  return nullptr;
}

}  // namespace porta_bench
