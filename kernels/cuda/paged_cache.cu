// The serving cache ops (porta/serving.h), SIMT, so the hip module builds them too.
// kv_cache_write: a 32-lane group per (token, KV head) stores the token's K and V rows at its
// slot (plain: rounded once to the cache dtype; int8: symmetric codes with the row's scale
// max|x| / 127, the max a group reduction; fp8 e4m3fn: x / layer scale, saturated to +-448).
// copy_blocks: a group per (pair, block row) copies the row's bytes of K and V with 16-byte
// accesses when aligned (and the int8 scales). Slots and block ids come from the device:
// out-of-range ones are skipped, so nothing outside the cache is written (the OpenCL and cpu
// backends skip the same ones). Status: compiled, never run on a GPU.
#include "device_common.cuh"
#include "paged_args.h"
#include "paged_common.cuh"

namespace porta::cuda {
namespace {

constexpr int kGroups = 4, kThreads = kGroups * kGroup;  // 4 rows per block

// f32 to fp8 e4m3fn, round to nearest even, saturating to +-448; NaN -> 0x7f (as paged_cache.cl).
__device__ __forceinline__ uint32_t f32_to_e4m3(float x) {
  const uint32_t sign = (__float_as_uint(x) >> 24) & 0x80u;
  if (x != x) return 0x7fu;
  const float a = fminf(fabsf(x), 448.0f);
  if (a < 0.015625f) return sign | uint32_t(rintf(a * 512.0f));  // subnormal grid 2^-9; 8 is 2^-6
  uint32_t u = __float_as_uint(a);
  u += 0x7ffffu + ((u >> 20) & 1u);                         // mantissa rounded to 3 bits, ties to even
  const uint32_t e = (u >> 23) - 120u, m = (u >> 20) & 7u;  // exponent rebiased 127 -> 7
  return sign | (e << 3) | m;
}

__device__ __forceinline__ int32_t int8_code(float f) {
  if (!(f >= -127.0f)) return -127;  // NaN too: any code, nothing outside the row
  if (!(f <= 127.0f)) return 127;
  return int32_t(rintf(f));
}

// One row: in (elements strided by `es`) -> cache row `dst` (element offset) of t.
__device__ void write_row(const KvWriteDesc& d, const PagedCacheTensor& t, const char* in, int64_t src,
                          int64_t es, int64_t blk, int64_t slot, int h, int lane) {
  const int D = d.cache.D, kind = d.cache.kind;
  const int64_t dst = blk * t.s_blk + slot * t.s_slot + h * t.s_head;
  if (kind <= kPagedBF16) {  // f32 / f16 / bf16: the kinds share KDType's numbering
    for (int e = lane; e < D; e += kGroup) store_f(t.ptr, kind, dst + e, load_f(in, d.in_dt, src + e * es));
    return;
  }
  if (kind == kPagedFp8) {
    uint8_t* q = reinterpret_cast<uint8_t*>(t.ptr) + dst;
    for (int e = lane; e < D; e += kGroup)
      q[e] = uint8_t(f32_to_e4m3(load_f(in, d.in_dt, src + e * es) / t.layer_scale));
    return;
  }
  float amax = 0.0f;
  for (int e = lane; e < D; e += kGroup) amax = fmaxf(amax, fabsf(load_f(in, d.in_dt, src + e * es)));
  for (int m = kGroup / 2; m > 0; m >>= 1) amax = fmaxf(amax, pc_shfl_xor(amax, m));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  int8_t* q = reinterpret_cast<int8_t*>(t.ptr) + dst;
  for (int e = lane; e < D; e += kGroup) q[e] = int8_t(int8_code(load_f(in, d.in_dt, src + e * es) * inv));
  if (lane == 0) t.scales[blk * t.sc_blk + slot * t.sc_slot + h * t.sc_head] = amax / 127.0f;
}

__global__ void __launch_bounds__(kThreads, 4) kv_cache_write_kernel(KvWriteDesc d) {
  const int lane = threadIdx.x % kGroup;
  const int64_t rows = d.T * d.cache.Hkv, capacity = d.cache.num_blocks * d.cache.block_size;
  for (int64_t row = int64_t(blockIdx.x) * kGroups + threadIdx.x / kGroup; row < rows;
       row += int64_t(gridDim.x) * kGroups) {
    const int64_t t = row / d.cache.Hkv;
    const int h = int(row - t * d.cache.Hkv);
    const int64_t slot = paged_index(d.slots, d.slots64, t * d.slot_st);
    if (slot < 0 || slot >= capacity) continue;  // -1 (padding) and bad slots: skipped (group-uniform)
    const int64_t blk = slot / d.cache.block_size, off = slot - blk * d.cache.block_size;
    write_row(d, d.cache.k, d.k, t * d.k_st[0] + h * d.k_st[1], d.k_st[2], blk, off, h, lane);
    write_row(d, d.cache.v, d.v, t * d.v_st[0] + h * d.v_st[1], d.v_st[2], blk, off, h, lane);
  }
}

__device__ void copy_row(const PagedCacheTensor& t, int64_t src, int64_t dst, int64_t s, int h, int bytes,
                         int es, bool vec, int lane) {
  const int64_t within = s * t.s_slot + h * t.s_head;
  const char* from = t.ptr + (src * t.s_blk + within) * es;
  char* to = t.ptr + (dst * t.s_blk + within) * es;
  if (vec) {
    for (int i = lane; i < bytes / 16; i += kGroup)
      reinterpret_cast<uint4*>(to)[i] = reinterpret_cast<const uint4*>(from)[i];
  } else {
    for (int i = lane; i < bytes; i += kGroup) to[i] = from[i];
  }
}

__global__ void __launch_bounds__(kThreads) copy_blocks_kernel(CopyBlocksDesc d) {
  const int lane = threadIdx.x % kGroup;
  const PagedCacheDesc& c = d.cache;
  const int es = paged_elem_bytes(c.kind), bytes = c.D * es;
  const int64_t per_pair = int64_t(c.block_size) * c.Hkv, rows = d.N * per_pair;
  for (int64_t row = int64_t(blockIdx.x) * kGroups + threadIdx.x / kGroup; row < rows;
       row += int64_t(gridDim.x) * kGroups) {
    const int64_t p = row / per_pair, r = row - p * per_pair, s = r / c.Hkv;
    const int h = int(r - s * c.Hkv);
    const int64_t src = paged_index(d.mapping, d.map64, p * d.map_st[0]);
    const int64_t dst = paged_index(d.mapping, d.map64, p * d.map_st[0] + d.map_st[1]);
    if (src < 0 || src >= c.num_blocks || dst < 0 || dst >= c.num_blocks || src == dst) continue;
    copy_row(c.k, src, dst, s, h, bytes, es, c.vec, lane);
    copy_row(c.v, src, dst, s, h, bytes, es, c.vec, lane);
    if (c.kind == kPagedInt8 && lane == 0) {
      c.k.scales[dst * c.k.sc_blk + s * c.k.sc_slot + h * c.k.sc_head] =
          c.k.scales[src * c.k.sc_blk + s * c.k.sc_slot + h * c.k.sc_head];
      c.v.scales[dst * c.v.sc_blk + s * c.v.sc_slot + h * c.v.sc_head] =
          c.v.scales[src * c.v.sc_blk + s * c.v.sc_slot + h * c.v.sc_head];
    }
  }
}

}  // namespace

int launch_kv_cache_write(const KvWriteDesc& d, void* stream) {
  const int64_t rows = d.T * d.cache.Hkv;
  if (rows == 0) return 0;
  kv_cache_write_kernel<<<grid_for(rows, kGroups), kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

int launch_copy_blocks(const CopyBlocksDesc& d, void* stream) {
  const int64_t rows = d.N * d.cache.block_size * d.cache.Hkv;
  if (rows == 0) return 0;
  copy_blocks_kernel<<<grid_for(rows, kGroups), kThreads, 0, static_cast<pcStream_t>(stream)>>>(d);
  return static_cast<int>(pcGetLastError());
}

}  // namespace porta::cuda
