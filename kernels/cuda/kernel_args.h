// Plain structs shared by the host code (src/backends/cuda/, compiled by the C++ compiler)
// and the kernels (kernels/cuda/*.cu): no CUDA types here, so both sides agree on layout.
#pragma once

#include <cstdint>

namespace porta::cuda {

// Same numbering as porta::DType (f32, f16, bf16, i8, i32).
enum KDType : int32_t { kF32 = 0, kF16 = 1, kBF16 = 2, kI8 = 3, kI32 = 4 };

/// A tensor as a kernel reads it: always rank 4 (leading dims of extent 1 prepended with
/// stride 0 by the host), strides in elements, ptr already advanced by the byte offset.
struct TDesc {
  char* ptr = nullptr;
  int32_t dtype = kF32;
  int64_t shape[4] = {1, 1, 1, 1};
  int64_t strides[4] = {0, 0, 0, 0};
};

/// Element-wise kinds, in backend::Elementwise's order.
enum EwKind : int32_t { kSiluMul, kGeluTanh, kGeluErf, kAdd, kMul, kScale, kCast, kCopy };

struct ElementwiseDesc {
  int32_t kind = kCopy;
  TDesc a, b, out;  // a, b broadcast to out's shape
  float alpha = 1.0f;
  int64_t n = 0;       // elements of out
  bool dense = false;  // a, (b,) out contiguous with out's shape: one linear index for all
  bool vec4 = false;   // dense and every pointer aligned for 4-element vector accesses
};

struct FillDesc {
  TDesc dst;
  uint32_t pattern = 0;  // the value's bytes in dst's dtype (low bytes used)
  int64_t n = 0;
};

/// Rows over the last dim: row r of a rank-4 tensor is (r / (s1*s2), r / s2 % s1, r % s2).
struct NormDesc {
  TDesc x, weight, bias, out;  // weight/bias rank-4 with D in dim 3; bias.ptr null when absent
  int64_t rows = 0, D = 0;
  float eps = 0;
  bool layer = false;  // layer_norm (mean subtracted) instead of rms_norm
};

struct SoftmaxDesc {
  TDesc x, mask, out;  // mask.ptr null when absent (broadcast through 0 strides)
  int64_t rows = 0, D = 0;
  float scale = 1.0f;
};

struct RopeDesc {
  TDesc x, positions, out;  // positions: shape [1,1,B or 1,S] as rank 4, strides for (b, s) in 2, 3
  int32_t rotary_dim = 0;
  bool neox = true;
  double log2_theta = 0;
};

struct EmbeddingDesc {
  TDesc table, ids, out;  // table [V, D] in dims 2..3, ids [N] in dim 3, out [N, D] in dims 2..3
};

struct ArgmaxDesc {
  TDesc x, out;  // x [R, C] in dims 2..3, out [R] in dim 3
};

enum Act : int32_t { kActNone = 0, kActRelu = 1, kActGelu = 2, kActSilu = 3 };

/// GEMM operands: a [batch, M, K], b [batch, K, N], c [batch, M, N] in dims 1..3.
struct GemmDesc {
  TDesc a, b, c, bias;  // bias [N] in dim 3, ptr null when absent
  int64_t batch = 1, M = 0, N = 0, K = 0;
  float alpha = 1.0f, beta = 0.0f;
  int32_t act = kActNone;
  int32_t b_kmajor = 0;  // B read K-contiguous (b.strides[2] == 1), as [N, K] weights are
  // Split-K: when > 1 the kernel writes f32 partial sums [split][batch][M][N] to `partial`
  // and gemm_reduce applies the epilogue.
  int32_t splits = 1;
  float* partial = nullptr;
};

/// Tile parameters of one GEMM kernel instance (tuning as data; see gemm_plan.h).
struct GemmTile {
  int32_t block_m = 64, block_n = 64, block_k = 16;
  int32_t warps_m = 2, warps_n = 2;
  int32_t stages = 1;
};

/// A CUtensorMap's 128 opaque bytes, with its size and alignment (128, as cuda.h declares it; TMA
/// needs at least 64): cuTensorMapEncodeTiled
/// fills it on the host (src/backends/cuda/tma_map.cpp), the sm90 kernels take it as a
/// `const __grid_constant__` parameter and hand its address to the TMA unit.
struct alignas(128) TmaMap {
  uint64_t opaque[16] = {};
};

/// What the sm90 TMA GEMM needs beyond GemmDesc: tensor maps of A (dims K, M, batch) and
/// B (K, N, batch when K-major; N, K, batch when N-major) and the persistent grid size.
struct GemmSm90Maps {
  TmaMap a, b;
  int32_t ctas = 1;  // persistent CTAs (about one per SM), each walking output tiles
};

/// Attention: q [B, Hq, Sq, D], k/v [B, Hkv, Skv, D], out like q.
struct AttentionDesc {
  TDesc q, k, v, out, kv_lens;  // kv_lens.ptr null when absent (i32 [B] in dim 3)
  int64_t B = 1, Hq = 1, Hkv = 1, Sq = 1, Skv = 1, D = 64;
  float scale = 1.0f;
  bool causal = false;
  int32_t rows_per_block = 16;  // query rows (s-major over the GQA group) one block handles
  int32_t key_tile = 32;        // keys per shared-memory tile (<= 32: one key per lane)
  bool vec_kv = false;          // K and V 16-bit, unit-stride rows, 16-byte aligned: vector loads
  int32_t splits = 1;           // KV splits; > 1: partials go to the workspace, then combine
  int64_t split_keys = 0;       // keys per split (multiple of the key tile)
  float* part_o = nullptr;      // [splits][B*Hq*Sq][D]
  float* part_ml = nullptr;     // [splits][B*Hq*Sq][2] running max and sum
};

}  // namespace porta::cuda

// ---------------------------------------------------------------------------------------
// Launch plans of the bandwidth paths of the row and element-wise ops (cuda-rows section,
// appended). src/backends/cuda/rows_plan.h fills them; every "vector" is 16 bytes.
namespace porta::cuda {

/// Dense norms and softmax: a row of D elements is D / vec 16-byte vectors; each of the
/// row's threads_per_row threads keeps vecs_per_thread of them in registers between the
/// statistics and the output pass (x is read once).
struct RowsLaunch {
  int32_t threads_per_row = 32;  // kGroup (one group per row) or blockDim.x (one row per block)
  int32_t rows_per_block = 1;    // blockDim.x / threads_per_row
  int32_t vecs_per_thread = 1;   // 1, 2, 4 or 8 (a template parameter of the kernel)
  int32_t grid = 1;              // blocks; rows beyond grid * rows_per_block are grid-strided
};

/// Vectorised rope: a block takes one position (b, s) and heads_per_block heads; the
/// (cos, sin) of each rotated pair is computed once per block into shared memory.
struct RopeLaunch {
  int32_t rot_threads = 0;      // per (b, h, s) row: rotary pairs / pairs per thread
  int32_t tail_threads = 0;     // per row: 16-byte vectors past rotary_dim (copied)
  int32_t heads_per_block = 1;  // heads handled by one block (rows of the same position)
  int32_t threads = 32;         // blockDim.x
  int32_t grid_x = 1;           // positions (B * S), grid-strided beyond
  int32_t grid_y = 1;           // head chunks: ceil(H / heads_per_block)
};

/// Argmax over long rows: `chunks` blocks per row each reduce chunk_cols columns; with
/// chunks > 1 they write (value, index) partials that a second pass merges in order.
struct ArgmaxSplit {
  int32_t chunks = 1;
  int64_t chunk_cols = 0;  // a multiple of threads * 16-byte vector elements
  int32_t threads = 256;
  int32_t grid_y = 1;           // rows, grid-strided beyond 65535
  bool vec = false;             // unit-stride, 16-byte aligned rows: 16-byte loads
  double* part_val = nullptr;   // [rows][chunks] when chunks > 1 (queue workspace)
  int64_t* part_idx = nullptr;  // [rows][chunks]; -1: the chunk was empty
};

/// Row-vectorised element-wise ops, strided copies and embedding: out viewed as `rows`
/// rows of its last dim (`cols` elements, a multiple of the 16-byte vector); operands are
/// addressed per row through their rank-4 strides (0 strides broadcast, e.g. a bias [N]
/// over [M, N]), 16-byte vectors along the row.
struct VecRowsLaunch {
  int64_t rows = 0, cols = 0;
  int32_t vec = 4;      // elements per 16-byte vector of out
  int32_t block_x = 256;  // threads along a row (vectors), a power of two >= kGroup
  int32_t block_y = 1;    // rows per block: block_x * block_y == 256
  int32_t grid_x = 1;     // ceil(cols / vec / block_x), grid-strided beyond
  int32_t grid_y = 1;     // ceil(rows / block_y), capped at 65535 and grid-strided beyond
};

}  // namespace porta::cuda

// ---------------------------------------------------------------------------------------
// Quantized weights (quant section, appended): kernels/cuda/quant.cu, src/backends/cuda/ops_quant.cpp.
namespace porta::cuda {

/// A quantized weight [n, k] in porta's canonical layout (porta/quant.h): codes row-major
/// with `code_rs` bytes per row; scales [n, G] (element strides; 0 per tensor); f16 zeros
/// (int4_zp) and an i32 K-permutation, null when absent. group: elements per scale (k for
/// per-channel / per-tensor). format: 0 int8, 1 int4, 2 int4_zp, 3 fp8_e4m3fn.
struct QWDesc {
  char* codes = nullptr;
  int64_t code_rs = 0;
  char* scales = nullptr;
  int32_t scale_dt = kF16;
  int64_t scale_rs = 0, scale_cs = 0;
  char* zeros = nullptr;
  int64_t zero_rs = 0, zero_cs = 0;
  const char* perm = nullptr;
  int64_t perm_st = 0;
  int32_t format = 0;
  int64_t n = 0, k = 0, group = 1;
};

/// out[r * out_rs + col(j) * out_cs] = weight row (row0 + r, or ids[r]: an id outside
/// [0, n) writes zeros) element j; col(j) = perm[j] when `unpermute` and the weight has one.
struct QuantDequantDesc {
  QWDesc w;
  char* out = nullptr;
  int32_t out_dt = kF32;
  int64_t out_rs = 0, out_cs = 0;
  int64_t rows = 0, row0 = 0;
  const char* ids = nullptr;  // i32, null: rows row0 + r
  int64_t ids_st = 0;
  bool unpermute = false;
  bool vec = false;  // 8 elements per thread, 16-byte stores (quant_plan.h: quant_dequant_vec)
};

/// c[m, n] = act(alpha * sum_j a[m, perm(j)] * w(n, j) + beta * c + bias), M <= 16.
struct QuantGemvDesc {
  QWDesc w;
  const char* a = nullptr;
  int32_t a_dt = kF32;
  int64_t a_rs = 0, a_cs = 0, M = 0;
  char* c = nullptr;
  int32_t c_dt = kF32;
  int64_t c_rs = 0, c_cs = 0;
  const char* bias = nullptr;  // null when absent
  int32_t bias_dt = kF32;
  int64_t bias_st = 0;
  float alpha = 1.0f, beta = 0.0f;
  int32_t act = 0;
  bool vec = false;  // 16-byte code loads: codes and code_rs 16-byte aligned, k a multiple of a load's elements
};

/// Round-to-nearest quantization of `in` [n, k] (any float dtype and strides) into w.
struct QuantizeDesc {
  QWDesc w;
  const char* in = nullptr;
  int32_t in_dt = kF32;
  int64_t in_rs = 0, in_cs = 0;
  bool per_tensor = false;
  float* rowmax = nullptr;  // per tensor: [n] scratch of row scales
};

}  // namespace porta::cuda
