// kv_cache_write (tokens scattered to block slots, quantised for int8/fp8 caches) and
// copy_blocks. Slots and block ids come from the device: out-of-range ones are skipped.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/convert.h"
#include "backends/cpu/dtype_io.h"
#include "backends/cpu/paged_common.h"

namespace porta::cpu {

namespace {

void load_row(const TensorArg& t, int64_t tok, int64_t h, int64_t D, float* out) {
  const char* p =
      t.host<char>() + (tok * t.strides[0] + h * t.strides[1]) * static_cast<int64_t>(dtype_size(t.dtype));
  if (t.strides[2] == 1)
    convert_row_to_f32(t.dtype, p, out, D);
  else
    for (int64_t d = 0; d < D; ++d) out[d] = load_f32(t.dtype, p, d * t.strides[2]);
}

// One head row of one token into the cache (dst already addressed).
void store_row(const KvCacheArg& c, const TensorArg& cache, const TensorArg* scales, float fp8_scale,
               int64_t block, int64_t slot, int64_t h, const float* x, int64_t D) {
  char* dst = cache_row(cache, block, slot, h);
  switch (c.format) {
    case KvCacheFormat::plain: convert_row_from_f32(cache.dtype, x, dst, D); return;
    case KvCacheFormat::int8: {
      float amax = 0.0f;
      for (int64_t d = 0; d < D; ++d) amax = std::max(amax, std::fabs(x[d]));
      const float scale = amax / 127.0f;  // symmetric; 0 for an all-zero row (codes 0)
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      auto* q = reinterpret_cast<int8_t*>(dst);
      for (int64_t d = 0; d < D; ++d)
        q[d] = static_cast<int8_t>(std::clamp(std::nearbyint(x[d] * inv), -127.0f, 127.0f));
      *cache_scale(*scales, block, slot, h) = scale;
      return;
    }
    case KvCacheFormat::fp8_e4m3fn: {
      auto* q = reinterpret_cast<uint8_t*>(dst);
      for (int64_t d = 0; d < D; ++d) q[d] = float_to_fp8_e4m3fn(x[d] / fp8_scale);
      return;
    }
  }
}

}  // namespace

void kv_cache_write(ThreadPool& pool, const KvCacheWriteArgs& a) {
  const KvCacheArg& c = a.cache;
  const int64_t T = a.k.shape[0], Hkv = a.k.shape[1], D = a.k.shape[2];
  const int64_t bs = c.k.shape[1], capacity = c.k.shape[0] * bs;
  pool.parallel_for(T, 16, [&](int64_t t0, int64_t t1) {
    std::vector<float> row(static_cast<size_t>(D));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t slot = load_index(a.slots, t);
      if (slot < 0 || slot >= capacity) continue;  // -1 (padding) and bad slots are skipped
      const int64_t block = slot / bs, off = slot % bs;
      for (int64_t h = 0; h < Hkv; ++h) {
        load_row(a.k, t, h, D, row.data());
        store_row(c, c.k, &c.k_scales, c.k_scale, block, off, h, row.data(), D);
        load_row(a.v, t, h, D, row.data());
        store_row(c, c.v, &c.v_scales, c.v_scale, block, off, h, row.data(), D);
      }
    }
  });
}

void copy_blocks(ThreadPool& pool, const CopyBlocksArgs& a) {
  const KvCacheArg& c = a.cache;
  const int64_t N = a.mapping.shape[0], nb = c.k.shape[0], bs = c.k.shape[1], Hkv = c.k.shape[2];
  const int64_t row_bytes = c.k.shape[3] * static_cast<int64_t>(dtype_size(c.k.dtype));
  pool.parallel_for(N, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t src = load_index(a.mapping, p, 0), dst = load_index(a.mapping, p, 1);
      if (src < 0 || src >= nb || dst < 0 || dst >= nb || src == dst) continue;
      for (int64_t s = 0; s < bs; ++s)
        for (int64_t h = 0; h < Hkv; ++h) {
          std::memcpy(cache_row(c.k, dst, s, h), cache_row(c.k, src, s, h), static_cast<size_t>(row_bytes));
          std::memcpy(cache_row(c.v, dst, s, h), cache_row(c.v, src, s, h), static_cast<size_t>(row_bytes));
          if (c.format == KvCacheFormat::int8) {
            *cache_scale(c.k_scales, dst, s, h) = *cache_scale(c.k_scales, src, s, h);
            *cache_scale(c.v_scales, dst, s, h) = *cache_scale(c.v_scales, src, s, h);
          }
        }
    }
  });
}

}  // namespace porta::cpu
