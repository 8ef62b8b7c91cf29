#include "backends/cuda/tma_map.h"

#include <cstdint>
#include <cstring>

#if !defined(PORTA_DIALECT_HIP)
#include <cuda.h>  // CUtensorMap and its enums: header only, libcuda is not linked
#include <cudaTypedefs.h>
#include <cuda_runtime_api.h>

#include <mutex>
#endif

namespace porta::cuda {
namespace {

constexpr uint64_t kStrideLimit = uint64_t(1) << 40;
constexpr uint64_t kDimLimit = uint64_t(1) << 32;

uint64_t round_up16(uint64_t v) { return (v + 15) / 16 * 16; }

/// dims/strides in elements (stride of dim 0 is 1) -> a spec; extent-1 dims get a stride
/// TMA accepts: the bytes the lower dims span, rounded up to 16.
TmaMapSpec make_spec(uint64_t addr, bool bf16, const uint64_t dims[3], const int64_t elem_strides[2],
                     const uint32_t box[3]) {
  TmaMapSpec s;
  s.addr = addr;
  s.bf16 = bf16;
  uint64_t span = dims[0] * 2;  // bytes reached by dims below the current one
  for (int i = 0; i < 3; ++i) {
    s.dims[i] = dims[i];
    s.box[i] = box[i];
  }
  for (int i = 0; i < 2; ++i) {
    const int64_t st = elem_strides[i];
    s.strides[i] = dims[i + 1] > 1 && st > 0 ? uint64_t(st) * 2 : round_up16(span);
    span = s.strides[i] * dims[i + 1];
  }
  return s;
}

}  // namespace

bool tma_spec_valid(const TmaMapSpec& s) {
  if (s.addr % 16 != 0) return false;
  for (int i = 0; i < 3; ++i) {
    if (s.dims[i] < 1 || s.dims[i] > kDimLimit) return false;
    if (s.box[i] < 1 || s.box[i] > 256) return false;
  }
  for (int i = 0; i < 2; ++i)
    if (s.strides[i] % 16 != 0 || s.strides[i] >= kStrideLimit) return false;
  return s.box[0] * 2 == 128;  // SW128: the inner box is one 128-byte swizzle row
}

bool gemm_tma_specs(const GemmShape& s, const GemmTile& t, bool b_kmajor, TmaMapSpec* a, TmaMapSpec* b) {
  if (s.a != s.b || (s.a != DType::f16 && s.a != DType::bf16)) return false;
  if (s.K < 1 || s.M < 1 || s.N < 1 || s.batch < 1) return false;
  // The kernel passes TMA coordinates as int32.
  constexpr int64_t kCoordLimit = INT32_MAX;
  if (s.K > kCoordLimit || s.M > kCoordLimit || s.N > kCoordLimit || s.batch > kCoordLimit) return false;
  // A zero stride on a dim of extent > 1 (one row broadcast over M, say) has no TMA encoding:
  // such views run sm80, which reads them through plain pointers. (Batch broadcast is a map
  // with a batch extent of 1.)
  if (s.M > 1 && s.a_strides[1] <= 0) return false;
  if (b_kmajor ? s.N > 1 && s.b_strides[2] <= 0 : s.K > 1 && s.b_strides[1] <= 0) return false;
  const bool bf16 = s.a == DType::bf16;
  const uint64_t K = uint64_t(s.K), M = uint64_t(s.M), N = uint64_t(s.N);
  const uint64_t batch_a = s.batch > 1 && s.a_strides[0] != 0 ? uint64_t(s.batch) : 1;
  const uint64_t batch_b = s.batch > 1 && s.b_strides[0] != 0 ? uint64_t(s.batch) : 1;
  if (s.a_strides[2] != 1) return false;
  {
    const uint64_t dims[3] = {K, M, batch_a};
    const int64_t st[2] = {s.a_strides[1], s.a_strides[0]};
    const uint32_t box[3] = {uint32_t(t.block_k), uint32_t(t.block_m), 1};
    *a = make_spec(s.a_addr, bf16, dims, st, box);
  }
  if (b_kmajor) {
    if (s.b_strides[1] != 1) return false;
    const uint64_t dims[3] = {K, N, batch_b};
    const int64_t st[2] = {s.b_strides[2], s.b_strides[0]};
    const uint32_t box[3] = {uint32_t(t.block_k), uint32_t(t.block_n), 1};
    *b = make_spec(s.b_addr, bf16, dims, st, box);
  } else {
    if (s.b_strides[2] != 1 || t.block_n % 64 != 0) return false;
    const uint64_t dims[3] = {N, K, batch_b};
    const int64_t st[2] = {s.b_strides[1], s.b_strides[0]};
    const uint32_t box[3] = {64, uint32_t(t.block_k), 1};
    *b = make_spec(s.b_addr, bf16, dims, st, box);
  }
  return tma_spec_valid(*a) && tma_spec_valid(*b);
}

#if !defined(PORTA_DIALECT_HIP)

namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_fn(std::string* why) {
  static std::once_flag once;
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::string error;
  std::call_once(once, [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    const cudaError_t e =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q);
    if (e != cudaSuccess || q != cudaDriverEntryPointSuccess || !p)
      error = std::string("cuTensorMapEncodeTiled is not available from the driver (") + cudaGetErrorName(e) +
              ")";
    else
      fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  });
  if (!fn && why) *why = error;
  return fn;
}

}  // namespace

bool encode_tma_map(const TmaMapSpec& s, TmaMap* out, std::string* why) {
  static_assert(sizeof(TmaMap) == sizeof(CUtensorMap) && alignof(TmaMap) == alignof(CUtensorMap),
                "TmaMap must be a CUtensorMap's image");
  if (!tma_spec_valid(s)) {
    if (why) *why = "tensor map parameters outside TMA's limits";
    return false;
  }
  const auto fn = encode_fn(why);
  if (!fn) return false;
  const cuuint64_t dims[3] = {s.dims[0], s.dims[1], s.dims[2]};
  const cuuint64_t strides[2] = {s.strides[0], s.strides[1]};
  const cuuint32_t box[3] = {s.box[0], s.box[1], s.box[2]};
  const cuuint32_t elem_strides[3] = {1, 1, 1};
  CUtensorMap map;
  const CUresult r =
      fn(&map, s.bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
         reinterpret_cast<void*>(s.addr), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
         CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    if (why) *why = "cuTensorMapEncodeTiled failed (CUresult " + std::to_string(int(r)) + ")";
    return false;
  }
  static_assert(sizeof(map) == sizeof(out->opaque), "CUtensorMap is 128 bytes");
  std::memcpy(out->opaque, &map, sizeof(map));
  return true;
}

#else

bool encode_tma_map(const TmaMapSpec&, TmaMap*, std::string* why) {
  if (why) *why = "no TMA in this build";
  return false;
}

#endif

}  // namespace porta::cuda
