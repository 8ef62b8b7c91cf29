// GPU checks of calls whose grids would pass CUDA's 65535 blocks in y: the backend runs them
// as several launches (ops_gemm.cpp: row chunks for the sm80 and simt GEMM kernels;
// ops_attention.cpp: batch chunks for every attention kernel). Against the float64
// reference; with no CUDA device no instance runs. Large but cheap shapes: tens of millions
// of elements, few FLOPs each.
#include "support/harness.h"

namespace porta::test {
namespace {

class CudaGridLimits : public DeviceTest {};

// 65535 tiles of 64 rows, plus a partial chunk.
constexpr int64_t kTallM = int64_t{65535} * 64 + 77;

void run_gemm(Stream& s, DType t, int64_t M, int64_t N, int64_t K, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "gemm M=" << M << " N=" << N << " K=" << K << " " << dtype_name(t));
  const HostTensor a = random({M, K}, t, seed);
  const HostTensor b = random({K, N}, t, seed + 1);
  const HostTensor bias = random({N}, DType::f32, seed + 2);
  Tensor A = upload(s, a, t);
  Tensor B = upload(s, b, t);
  Tensor bias_t = upload(s, bias, DType::f32);
  GuardedOutput C(s, {M, N}, t);
  ops::GemmOptions o;
  o.bias = &bias_t;
  ops::gemm(s, A, B, C.tensor(), o);
  const HostTensor want =
      ref::gemm(a, b, HostTensor({M, N}), {M, N}, 1.0f, 0.0f, &bias, ops::Activation::none);
  EXPECT_TRUE(close(C.result(s), want, OpClass::matmul, t));
}

// f32 runs the simt kernel; f16/bf16 the tensor-core path (sm80 on A100-class parts and
// under PORTA_CUDA_GEMM_PATH=sm80; the persistent sm90 kernel has no such limit).
TEST_P(CudaGridLimits, GemmTallerThanOneGrid) {
  Stream s(device());
  uint32_t seed = 9000;
  for (DType t : {DType::f32, DType::bf16}) {
    if (!supports(t)) continue;
    run_gemm(s, t, kTallM, 8, 16, seed);
    seed += 3;
  }
}

void run_attention(Stream& s, DType t, int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Skv,
                   const std::vector<int32_t>& lens, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "attention B=" << B << " Hq=" << Hq << " Hkv=" << Hkv << " Sq=" << Sq
                                    << " Skv=" << Skv << " " << dtype_name(t));
  const int64_t D = 64;
  const HostTensor q = random({B, Hq, Sq, D}, t, seed);
  const HostTensor k = random({B, Hkv, Skv, D}, t, seed + 1);
  const HostTensor v = random({B, Hkv, Skv, D}, t, seed + 2);
  Tensor Q = upload(s, q, t), K = upload(s, k, t), V = upload(s, v, t);
  GuardedOutput out(s, {B, Hq, Sq, D}, t);
  check_attention(s, q, k, v, Q, K, V, out, t, false, lens);
}

// B x Hq = 65568 > 65535: prefill (tensor-core kernels, one block row per query head) and
// decode (B x Hkv blocks), with per-batch lengths so a wrongly offset chunk reads the wrong
// kv_lens entry.
TEST_P(CudaGridLimits, AttentionMoreHeadsThanOneGrid) {
  Stream s(device());
  const int64_t B = 2049;
  std::vector<int32_t> lens(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) lens[static_cast<size_t>(b)] = static_cast<int32_t>(1 + b % 3);
  for (DType t : {DType::bf16, DType::f32}) {
    if (!supports(t)) continue;
    run_attention(s, t, B, 32, 8, 16, 3, lens, 9100);  // prefill
    std::vector<int32_t> long_lens(static_cast<size_t>(8200));
    for (size_t b = 0; b < long_lens.size(); ++b) long_lens[b] = static_cast<int32_t>(1 + b % 5);
    run_attention(s, t, 8200, 8, 8, 1, 5, long_lens, 9200);  // decode: B x Hkv = 65600
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaGridLimits);
PORTA_INSTANTIATE_ON_DEVICES(CudaGridLimits);

}  // namespace
}  // namespace porta::test
