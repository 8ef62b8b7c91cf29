// Row and element-wise launch planning (see rows_plan.h): eligibility of the 16-byte vector
// paths and the thread shapes, from the descriptors alone.
#include "backends/cuda/rows_plan.h"

#include <algorithm>

namespace porta::cuda {
namespace {

constexpr int kVecBytes = 16;
constexpr int kLanes = 32;  // the kernels' reduction group (kGroup)
// Floats of its row a thread keeps in registers: 32 in blocks of <= 256 threads, 16 in
// larger blocks (64 registers per thread at 1024 threads); rows_max_threads() in
// kernels/cuda/rows_common.cuh is the kernels' side of this rule.
constexpr int kMaxFloatsPerThread = 32;
constexpr int kMaxFloatsPerThreadLargeBlock = 16;
constexpr int kResidentThreadsPerSm = 2048;
constexpr int64_t kGridYMax = 65535;
constexpr int64_t kGridXMax = int64_t{1} << 30;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t pow2_ceil(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

bool is_float(int32_t dt) { return dt == kF32 || dt == kF16 || dt == kBF16; }

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % kVecBytes == 0; }

// A weight/bias [D] (rank 4 with D in dim 3) read with load_vec_any: unit stride, aligned.
bool vector_operand_ok(const TDesc& t) {
  return is_float(t.dtype) && (t.strides[3] == 1 || t.shape[3] == 1) && aligned16(t.ptr);
}

// Grid of row blocks: every row block once, at most 8 waves of resident blocks (grid-stride
// beyond), so huge row counts do not launch millions of short blocks.
int32_t row_grid(int64_t row_blocks, int block_threads, int sm_count) {
  const int64_t per_sm = std::max<int64_t>(1, kResidentThreadsPerSm / block_threads);
  const int64_t cap = std::max<int64_t>(1, sm_count) * per_sm * 8;
  return static_cast<int32_t>(std::clamp<int64_t>(row_blocks, 1, cap));
}

}  // namespace

int kdtype_bytes(int32_t dt) { return dt == kF32 || dt == kI32 ? 4 : dt == kI8 ? 1 : 2; }

bool rows_vectorizable(const TDesc& t, const int64_t* shape) {
  const int64_t es = kdtype_bytes(t.dtype);
  if (!aligned16(t.ptr)) return false;
  if (shape[3] > 1 && t.strides[3] != 1) return false;
  if (shape[3] * es % kVecBytes != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (shape[i] > 1 && t.strides[i] * es % kVecBytes != 0) return false;
  return true;
}

bool plan_rows(int64_t rows, int64_t D, int32_t dtype, int sm_count, RowsLaunch* p) {
  if (!is_float(dtype) || rows <= 0 || D <= 0) return false;
  const int64_t vec = kVecBytes / kdtype_bytes(dtype);
  if (D % vec != 0) return false;
  const int64_t nvec = D / vec, kmax = kMaxFloatsPerThread / vec;
  RowsLaunch r;
  if (nvec <= kLanes * kmax) {  // short rows: one 32-lane group each, 8 rows per block
    r.threads_per_row = kLanes;
    r.vecs_per_thread = static_cast<int32_t>(pow2_ceil(ceil_div(nvec, kLanes)));
    r.rows_per_block = static_cast<int32_t>(std::min<int64_t>(rows, 8));
  } else {  // long rows: one block each, <= 2 vectors per thread while threads allow
    const int64_t threads = std::min<int64_t>(1024, pow2_ceil(ceil_div(nvec, 2)));
    const int64_t k = pow2_ceil(ceil_div(nvec, threads));
    if (k * vec > (threads > 256 ? kMaxFloatsPerThreadLargeBlock : kMaxFloatsPerThread)) return false;
    r.threads_per_row = static_cast<int32_t>(threads);
    r.vecs_per_thread = static_cast<int32_t>(k);
    r.rows_per_block = 1;
  }
  r.grid = row_grid(ceil_div(rows, r.rows_per_block), r.threads_per_row * r.rows_per_block, sm_count);
  *p = r;
  return true;
}

bool plan_norm(const NormDesc& d, int sm_count, RowsLaunch* p) {
  if (d.x.dtype != d.out.dtype) return false;
  if (!rows_vectorizable(d.x, d.x.shape) || !rows_vectorizable(d.out, d.x.shape)) return false;
  if (!vector_operand_ok(d.weight) || (d.bias.ptr && !vector_operand_ok(d.bias))) return false;
  return plan_rows(d.rows, d.D, d.x.dtype, sm_count, p);
}

bool plan_softmax(const SoftmaxDesc& d, int sm_count, RowsLaunch* p) {
  if (d.x.dtype != d.out.dtype) return false;
  if (!rows_vectorizable(d.x, d.x.shape) || !rows_vectorizable(d.out, d.x.shape)) return false;
  // The mask is read with load_vec_any (x's vector length in the mask's dtype: 8, 16 or 32
  // bytes); 16-byte aligned, unit-stride rows cover all three (conservative for f16 masks).
  if (d.mask.ptr && (!is_float(d.mask.dtype) || !rows_vectorizable(d.mask, d.x.shape))) return false;
  return plan_rows(d.rows, d.D, d.x.dtype, sm_count, p);
}

bool plan_rope(const RopeDesc& d, int sm_count, RopeLaunch* p) {
  if (!is_float(d.x.dtype) || d.x.dtype != d.out.dtype) return false;
  if (!rows_vectorizable(d.x, d.x.shape) || !rows_vectorizable(d.out, d.x.shape)) return false;
  const int64_t vec = kVecBytes / kdtype_bytes(d.x.dtype);
  const int64_t D = d.x.shape[3], rot = d.rotary_dim, half = rot / 2;
  if (rot <= 0 || rot % 2 != 0 || rot > D || half > kRopeMaxPairs) return false;
  // NeoX pairs (j, j + half): a thread rotates `vec` pairs from two 16-byte vectors, so the
  // half must be whole vectors. GPT-J pairs (2j, 2j + 1): one vector holds vec / 2 pairs.
  const int64_t pairs_per_thread = d.neox ? vec : vec / 2;
  if (half % pairs_per_thread != 0 || (D - rot) % vec != 0) return false;
  RopeLaunch r;
  r.rot_threads = static_cast<int32_t>(half / pairs_per_thread);
  r.tail_threads = static_cast<int32_t>((D - rot) / vec);
  const int64_t row_threads = r.rot_threads + r.tail_threads;
  const int64_t H = d.x.shape[1], positions = d.x.shape[0] * d.x.shape[2];
  if (positions <= 0 || H <= 0) return false;
  int64_t hpb = std::clamp<int64_t>(256 / row_threads, 1, H);
  // Few positions (decode): spread the heads over more blocks while a block keeps >= 64 threads.
  while (hpb > 1 && positions * ceil_div(H, hpb) < 2 * int64_t(std::max(1, sm_count)) &&
         (hpb / 2) * row_threads >= 64)
    hpb /= 2;
  r.heads_per_block = static_cast<int32_t>(hpb);
  r.threads = static_cast<int32_t>(std::min<int64_t>(256, ceil_div(hpb * row_threads, kLanes) * kLanes));
  if (ceil_div(H, hpb) > kGridYMax) return false;  // head chunks are not grid-strided
  r.grid_x = static_cast<int32_t>(std::min(positions, kGridXMax));
  r.grid_y = static_cast<int32_t>(ceil_div(H, hpb));
  *p = r;
  return true;
}

ArgmaxSplit plan_argmax(const ArgmaxDesc& d, int sm_count) {
  ArgmaxSplit s;
  const int64_t R = d.x.shape[2], C = d.x.shape[3];
  const int es = kdtype_bytes(d.x.dtype);
  const int64_t vec = kVecBytes / es;
  s.vec = d.x.dtype != kI8 && C % vec == 0 && rows_vectorizable(d.x, d.x.shape);
  const int64_t step = int64_t{s.threads} * (s.vec ? vec : 1);
  const int64_t min_chunk = 4 * step;
  const int64_t want = ceil_div(2 * int64_t(std::max(1, sm_count)), std::max<int64_t>(R, 1));
  const int64_t chunks = std::clamp<int64_t>(std::min(want, ceil_div(C, min_chunk)), 1, 4096);
  s.chunk_cols = std::max<int64_t>(step, ceil_div(ceil_div(C, chunks), step) * step);
  s.chunks = static_cast<int32_t>(std::max<int64_t>(1, ceil_div(C, s.chunk_cols)));
  s.grid_y = static_cast<int32_t>(std::clamp<int64_t>(R, 1, kGridYMax));
  return s;
}

VecRowsLaunch vec_rows_shape(int64_t rows, int64_t cols, int vec) {
  VecRowsLaunch r;
  r.rows = rows;
  r.cols = cols;
  r.vec = vec;
  // About four vectors of a row per thread: the row's start (index split, strides) is
  // computed once per row per thread, so it must be spread over several 16-byte moves.
  constexpr int64_t kVecsPerThread = 4;
  const int64_t vcols = cols / vec;
  r.block_x =
      static_cast<int32_t>(std::clamp<int64_t>(pow2_ceil(ceil_div(vcols, kVecsPerThread)), kLanes, 256));
  r.block_y = 256 / r.block_x;
  r.grid_x = static_cast<int32_t>(
      std::clamp<int64_t>(ceil_div(vcols, int64_t{r.block_x} * kVecsPerThread), 1, kGridXMax));
  r.grid_y = static_cast<int32_t>(std::clamp<int64_t>(ceil_div(rows, r.block_y), 1, kGridYMax));
  return r;
}

bool plan_elementwise_rows(const ElementwiseDesc& d, bool binary, VecRowsLaunch* p) {
  if (d.n <= 0 || !is_float(d.out.dtype) || d.a.dtype != d.out.dtype) return false;
  if (binary && d.b.dtype != d.out.dtype) return false;
  const int vec = kVecBytes / kdtype_bytes(d.out.dtype);
  if (d.dense) {  // one row of n elements: only the pointers' alignment matters
    if (d.n % vec != 0 || !aligned16(d.a.ptr) || !aligned16(d.out.ptr) || (binary && !aligned16(d.b.ptr)))
      return false;
    *p = vec_rows_shape(1, d.n, vec);
    return true;
  }
  const int64_t* shape = d.out.shape;
  if (!rows_vectorizable(d.out, shape) || !rows_vectorizable(d.a, shape)) return false;
  if (binary && !rows_vectorizable(d.b, shape)) return false;
  *p = vec_rows_shape(d.n / shape[3], shape[3], vec);
  return true;
}

bool plan_copy_rows(const ElementwiseDesc& d, VecRowsLaunch* p) {
  if (d.n <= 0 || d.a.dtype != d.out.dtype) return false;
  const int64_t* shape = d.out.shape;
  if (!rows_vectorizable(d.out, shape) || !rows_vectorizable(d.a, shape)) return false;
  *p = vec_rows_shape(d.n / shape[3], shape[3], kVecBytes / kdtype_bytes(d.out.dtype));
  return true;
}

bool plan_embedding_rows(const EmbeddingDesc& d, VecRowsLaunch* p) {
  if (d.table.dtype != d.out.dtype) return false;
  const int64_t N = d.ids.shape[3], D = d.table.shape[3];
  if (N <= 0 || D <= 0) return false;
  // Rows of the table and of out (dims 2..3); the op's row count differs per tensor, so each
  // is checked over its own shape.
  if (!rows_vectorizable(d.table, d.table.shape) || !rows_vectorizable(d.out, d.out.shape)) return false;
  *p = vec_rows_shape(N, D, kVecBytes / kdtype_bytes(d.out.dtype));
  return true;
}

bool plan_cast_vec(const ElementwiseDesc& d) {
  return d.dense && d.n > 0 && is_float(d.a.dtype) && is_float(d.out.dtype) && d.a.dtype != d.out.dtype &&
         aligned16(d.a.ptr) && aligned16(d.out.ptr);
}

bool fill_vec16_eligible(const FillDesc& d, bool contiguous) {
  return contiguous && d.n > 0 && d.dst.dtype != kI8 && aligned16(d.dst.ptr);
}

}  // namespace porta::cuda
