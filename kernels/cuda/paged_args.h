// The serving kernels' parameters (plain structs shared by src/backends/cuda/ops_paged.cpp and
// kernels/cuda/paged_*.cu, no CUDA types) and their host-callable launchers, which return the
// launch status as an int (0: success). A header of its own so the other kernels do not depend on it.
#pragma once

#include <cstdint>

#include "kernel_args.h"

namespace porta::cuda {

/// How a paged cache's elements are stored: plain f32/f16/bf16, or i8 codes (int8 with a
/// per-row f32 scale, fp8 e4m3fn with a per-layer scale).
enum PagedKind : int32_t { kPagedF32 = 0, kPagedF16 = 1, kPagedBF16 = 2, kPagedInt8 = 3, kPagedFp8 = 4 };

/// One cache tensor [num_blocks, block_size, Hkv, D] with element strides for the first
/// three dims (D has unit stride), and its int8 scales [num_blocks, block_size, Hkv] (null
/// for other kinds).
struct PagedCacheTensor {
  char* ptr = nullptr;
  int64_t s_blk = 0, s_slot = 0, s_head = 0;
  float* scales = nullptr;
  int64_t sc_blk = 0, sc_slot = 0, sc_head = 0;
  float layer_scale = 1.0f;  // fp8: value = fp8(code) * layer_scale
};

struct PagedCacheDesc {
  PagedCacheTensor k, v;
  int32_t kind = kPagedF16;
  int64_t num_blocks = 0;
  int32_t block_size = 16, Hkv = 1, D = 64;
  bool vec = false;  // 16-byte row accesses: bases and row strides aligned (see ops_paged.cpp)
};

/// kv_cache_write: token t's rows of k, v [T, Hkv, D] (any float dtype and strides) go to slot
/// slots[t] (i32 or i64); slots outside [0, num_blocks * block_size) are skipped.
struct KvWriteDesc {
  PagedCacheDesc cache;
  const char* k = nullptr;
  const char* v = nullptr;
  int32_t in_dt = kF32;
  int64_t k_st[3] = {0, 0, 0}, v_st[3] = {0, 0, 0};  // token, head, element
  const char* slots = nullptr;
  int64_t slot_st = 0;
  bool slots64 = false;
  int64_t T = 0;
};

/// copy_blocks: mapping [N, 2] (i32 or i64) of (src, dst) block ids; pairs with an id outside
/// [0, num_blocks) (or src == dst) are skipped.
struct CopyBlocksDesc {
  PagedCacheDesc cache;
  const char* mapping = nullptr;
  int64_t map_st[2] = {0, 0};
  bool map64 = false;
  int64_t N = 0;
};

/// How paged_attention is cut (paged_plan.h): a CTA owns one (sequence, KV head, tile of the
/// GQA group's heads, tile of query positions, KV split); its rows (heads x positions) share
/// every K/V row it reads.
struct PagedLaunch {
  int32_t group_heads = 1;  // GQA heads per CTA (gh)
  int32_t q_per_cta = 1;    // query positions per CTA (qp); gh * qp <= rows
  int32_t rows = 1;         // the kernel's row capacity (1, 2, 4 or 8): a template parameter
  int32_t g_tiles = 1, q_tiles = 1;
  int32_t splits = 1;  // KV splits; > 1: partials, then paged_combine
  int32_t chunk = 64;  // keys per split, a multiple of 64
  int64_t ctas = 1;    // B * q_tiles * Hkv * g_tiles * splits (grid.x)
};

struct PagedAttnDesc {
  PagedCacheDesc cache;
  const char* q = nullptr;
  char* out = nullptr;
  int32_t dt = kF16;                                 // q and out
  int64_t q_st[3] = {0, 0, 0}, o_st[3] = {0, 0, 0};  // token, head, element
  float* lse = nullptr;                              // f32 [T, Hq] or null
  int64_t lse_st[2] = {0, 0};
  const char* tables = nullptr;  // i32 [B, max_blocks]
  int64_t tab_st[2] = {0, 0};
  const char* cu = nullptr;  // i32 [B + 1]
  int64_t cu_st = 0;
  const char* lens = nullptr;  // i32 [B]
  int64_t lens_st = 0;
  int64_t T = 0, Hq = 1, B = 0, max_blocks = 0;
  int32_t max_q = 0, max_k = 0;
  bool causal = true;
  int32_t window = 0;  // 0: none
  float scale = 1.0f;
  PagedLaunch plan;
  float* part = nullptr;  // splits > 1: [B * max_q * Hq][splits][D + 2] (m, l, acc)
};

// Launchers.
int launch_kv_cache_write(const KvWriteDesc& d, void* stream);  // paged_cache.cu
int launch_copy_blocks(const CopyBlocksDesc& d, void* stream);  // paged_cache.cu
/// Split-KV paged attention over block tables, then the combine pass when plan.splits > 1.
int launch_paged_attention(const PagedAttnDesc& d, void* stream);  // paged_attention.cu
/// Prefill with tensor cores (mma.sync, sm_80+): plain f16/bf16 caches of q's dtype, 16-byte
/// aligned rows, B * Hq <= 65535; a CTA per 64 query rows of one (sequence, head).
int launch_paged_prefill_sm80(const PagedAttnDesc& d, void* stream);  // paged_prefill_sm80.cu
/// True when this build carries it (NVIDIA dialect).
bool paged_prefill_sm80_compiled();

}  // namespace porta::cuda
