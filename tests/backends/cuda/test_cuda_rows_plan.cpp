// The row/element-wise planner of the CUDA backend (src/backends/cuda/rows_plan.h), checked
// without a GPU: which calls take the 16-byte vector kernels, and the thread shapes they get
// at LLM sizes. Descriptors carry fake device addresses; only their alignment matters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "backends/cuda/rows_plan.h"

namespace porta::cuda {
namespace {

constexpr uintptr_t kBase = 0x10000;  // 16-byte aligned fake device address

// A contiguous rank-4 descriptor of `shape` (leading 1s prepended, as to_desc does).
TDesc dense(int32_t dt, std::initializer_list<int64_t> shape, uintptr_t addr = kBase) {
  TDesc t;
  t.ptr = reinterpret_cast<char*>(addr);
  t.dtype = dt;
  const int shift = 4 - static_cast<int>(shape.size());
  int i = shift;
  for (int64_t s : shape) t.shape[i++] = s;
  int64_t stride = 1;
  for (int d = 3; d >= 0; --d) {
    t.strides[d] = d >= shift ? stride : 0;
    stride *= t.shape[d];
  }
  return t;
}

TEST(CudaRowsPlan, VectorizableNeedsUnitStrideAlignedRows) {
  const TDesc x = dense(kBF16, {4, 4096});
  EXPECT_TRUE(rows_vectorizable(x, x.shape));
  EXPECT_FALSE(rows_vectorizable(dense(kBF16, {4, 4096}, kBase + 2), x.shape));  // base off by one element
  TDesc pitched = x;
  pitched.strides[2] = 4100;  // 8200-byte rows: every other row start misaligned
  EXPECT_FALSE(rows_vectorizable(pitched, x.shape));
  pitched.strides[2] = 4104;  // 8208 bytes: aligned row starts (padded rows are fine)
  EXPECT_TRUE(rows_vectorizable(pitched, x.shape));
  TDesc strided = x;
  strided.strides[3] = 2;
  EXPECT_FALSE(rows_vectorizable(strided, x.shape));
  EXPECT_FALSE(rows_vectorizable(dense(kBF16, {4, 12}), dense(kBF16, {4, 12}).shape));  // 24-byte rows
  // A bias [N] broadcast over [M, N]: zero row strides are aligned by definition.
  TDesc bias = dense(kBF16, {4096});
  EXPECT_TRUE(rows_vectorizable(bias, x.shape));
  // Broadcast along the row (stride 0 in the last dim) cannot be a vector.
  bias.strides[3] = 0;
  EXPECT_FALSE(rows_vectorizable(bias, x.shape));
}

TEST(CudaRowsPlan, LlmRowsGetOneBlockPerRowAndTwoVectorsPerThread) {
  RowsLaunch p;
  ASSERT_TRUE(plan_rows(16384, 4096, kBF16, 132, &p));  // 512 vectors of 8 halves
  EXPECT_EQ(p.threads_per_row, 256);
  EXPECT_EQ(p.vecs_per_thread, 2);
  EXPECT_EQ(p.rows_per_block, 1);
  EXPECT_EQ(p.grid, 132 * 8 * 8);  // 8 waves of 8 resident 256-thread blocks per SM, then grid-stride
  ASSERT_TRUE(plan_rows(1, 8192, kBF16, 132, &p));
  EXPECT_EQ(p.threads_per_row, 512);
  EXPECT_EQ(p.vecs_per_thread, 2);
  EXPECT_EQ(p.grid, 1);
  ASSERT_TRUE(plan_rows(64, 8192, kF32, 132, &p));  // 2048 vectors of 4 floats
  EXPECT_EQ(p.threads_per_row, 1024);
  EXPECT_EQ(p.vecs_per_thread, 2);
  EXPECT_EQ(p.grid, 64);
  ASSERT_TRUE(plan_rows(8, 16384, kBF16, 132, &p));  // the longest 16-bit row: 16 floats a thread
  EXPECT_EQ(p.threads_per_row, 1024);
  EXPECT_EQ(p.vecs_per_thread, 2);
  ASSERT_TRUE(plan_rows(8, 16384, kF32, 132, &p));
  EXPECT_EQ(p.vecs_per_thread, 4);
  EXPECT_FALSE(plan_rows(8, 32768, kBF16, 132, &p));  // would need 32 floats at 1024 threads
  EXPECT_FALSE(plan_rows(8, 32768, kF32, 132, &p));
  EXPECT_FALSE(plan_rows(8, 100, kBF16, 132, &p));  // not whole 16-byte vectors
  EXPECT_FALSE(plan_rows(8, 4096, kI32, 132, &p));
}

TEST(CudaRowsPlan, ShortRowsTakeOneGroupEachEightPerBlock) {
  RowsLaunch p;
  ASSERT_TRUE(plan_rows(16384, 1024, kBF16, 132, &p));  // 128 vectors: 4 per lane
  EXPECT_EQ(p.threads_per_row, 32);
  EXPECT_EQ(p.vecs_per_thread, 4);
  EXPECT_EQ(p.rows_per_block, 8);
  ASSERT_TRUE(plan_rows(16384, 1024, kF32, 132, &p));  // 256 vectors: 8 per lane, 32 floats
  EXPECT_EQ(p.threads_per_row, 32);
  EXPECT_EQ(p.vecs_per_thread, 8);
  ASSERT_TRUE(plan_rows(3, 128, kF16, 132, &p));
  EXPECT_EQ(p.threads_per_row, 32);
  EXPECT_EQ(p.vecs_per_thread, 1);
  EXPECT_EQ(p.rows_per_block, 3);  // no idle groups for a 3-row call
  EXPECT_EQ(p.grid, 1);
  ASSERT_TRUE(plan_rows(2048, 2048, kF32, 132, &p));  // just past the group limit
  EXPECT_EQ(p.threads_per_row, 256);
  EXPECT_EQ(p.vecs_per_thread, 2);
}

// Every planned shape covers its row, keeps the register rule the kernels' launch bounds
// assume (rows_max_threads in kernels/cuda/rows_common.cuh), and is a legal block.
TEST(CudaRowsPlan, InvariantsOverAllRowLengths) {
  for (int32_t dt : {kF32, kF16, kBF16}) {
    const int64_t vec = dt == kF32 ? 4 : 8;
    for (int64_t D = vec; D <= 16384; D += vec) {
      for (int64_t rows : {int64_t{1}, int64_t{7}, int64_t{100000}}) {
        RowsLaunch p;
        ASSERT_TRUE(plan_rows(rows, D, dt, 132, &p)) << D;
        const int64_t block = int64_t{p.threads_per_row} * p.rows_per_block;
        const int k = p.vecs_per_thread;
        EXPECT_TRUE(k == 1 || k == 2 || k == 4 || (k == 8 && vec == 4)) << D;
        EXPECT_GE(int64_t{p.threads_per_row} * k * vec, D) << D;  // the row fits the registers
        EXPECT_LE(k * vec, 32) << D;
        if (k * vec > 16) {
          EXPECT_LE(block, 256) << D;  // launch bound 256 for those instances
        }
        EXPECT_LE(block, 1024);
        EXPECT_EQ(block % 32, 0);
        EXPECT_TRUE(p.threads_per_row == 32 || p.rows_per_block == 1) << D;  // block barrier rule
        EXPECT_GE(p.grid, 1);
      }
    }
  }
}

TEST(CudaRowsPlan, NormNeedsAlignedWeightsAndOneDtype) {
  NormDesc d;
  d.x = d.out = dense(kBF16, {16, 4096});
  d.weight = dense(kF32, {4096});
  d.rows = 16;
  d.D = 4096;
  RowsLaunch p;
  EXPECT_TRUE(plan_norm(d, 132, &p));  // weight in another float dtype is fine
  d.bias = dense(kBF16, {4096}, kBase + 8);
  EXPECT_FALSE(plan_norm(d, 132, &p));  // misaligned bias
  d.bias = dense(kBF16, {4096});
  EXPECT_TRUE(plan_norm(d, 132, &p));
  d.weight.strides[3] = 2;
  EXPECT_FALSE(plan_norm(d, 132, &p));
  d.weight.strides[3] = 1;
  d.out = dense(kF16, {16, 4096});
  EXPECT_FALSE(plan_norm(d, 132, &p));
}

TEST(CudaRowsPlan, SoftmaxTakesBroadcastMasks) {
  SoftmaxDesc d;
  d.x = d.out = dense(kF16, {2, 8, 512, 512});
  d.rows = 2 * 8 * 512;
  d.D = 512;
  d.mask = dense(kF32, {512, 512});  // broadcast over B and H through zero strides
  RowsLaunch p;
  EXPECT_TRUE(plan_softmax(d, 132, &p));
  EXPECT_EQ(p.threads_per_row, 32);
  d.mask = dense(kF32, {512});
  d.mask.strides[3] = 0;  // one value per row, broadcast along it: strided kernel
  d.mask.shape[3] = 1;
  EXPECT_FALSE(plan_softmax(d, 132, &p));
  d.mask = TDesc{};  // no mask (null pointer)
  EXPECT_TRUE(plan_softmax(d, 132, &p));
}

TEST(CudaRowsPlan, RopeSharesAnglesOverTheHeadsOfABlock) {
  RopeDesc d;
  d.x = d.out = dense(kBF16, {1, 32, 4096, 128});
  d.rotary_dim = 128;
  d.neox = true;
  RopeLaunch p;
  ASSERT_TRUE(plan_rope(d, 132, &p));
  EXPECT_EQ(p.rot_threads, 8);  // 64 pairs, 8 per thread (two 16-byte vectors)
  EXPECT_EQ(p.tail_threads, 0);
  EXPECT_EQ(p.heads_per_block, 32);
  EXPECT_EQ(p.threads, 256);
  EXPECT_EQ(p.grid_x, 4096);
  EXPECT_EQ(p.grid_y, 1);
  d.neox = false;  // GPT-J: one vector holds 4 adjacent pairs
  ASSERT_TRUE(plan_rope(d, 132, &p));
  EXPECT_EQ(p.rot_threads, 16);
  EXPECT_EQ(p.heads_per_block, 16);
  EXPECT_EQ(p.grid_y, 2);
  // Decode: one position; heads spread over blocks while a block keeps >= 64 threads.
  d.neox = true;
  d.x = d.out = dense(kBF16, {1, 32, 1, 128});
  ASSERT_TRUE(plan_rope(d, 132, &p));
  EXPECT_EQ(p.heads_per_block, 8);
  EXPECT_EQ(p.threads, 64);
  EXPECT_EQ(p.grid_y, 4);
  // Partial rotary (GPT-NeoX style 32 of 128): the tail is copied with vectors.
  d.x = d.out = dense(kF16, {2, 8, 16, 128});
  d.rotary_dim = 32;
  ASSERT_TRUE(plan_rope(d, 132, &p));
  EXPECT_EQ(p.rot_threads, 2);
  EXPECT_EQ(p.tail_threads, 12);
  d.rotary_dim = 24;  // half = 12 pairs: not whole NeoX vectors of 8
  EXPECT_FALSE(plan_rope(d, 132, &p));
  d.neox = false;  // GPT-J: 24 elements = 3 vectors
  EXPECT_TRUE(plan_rope(d, 132, &p));
  d.x = dense(kF16, {2, 8, 16, 128}, kBase + 4);
  EXPECT_FALSE(plan_rope(d, 132, &p));
}

TEST(CudaRowsPlan, ArgmaxSplitsLongRowsToFillTheGpu) {
  ArgmaxDesc d;
  d.x = dense(kBF16, {1, 128256});  // Llama-3 vocabulary, one row (decode)
  d.out = dense(kI32, {1});
  ArgmaxSplit s = plan_argmax(d, 132);
  EXPECT_TRUE(s.vec);
  EXPECT_EQ(s.chunk_cols % (256 * 8), 0);
  EXPECT_EQ(s.chunks, 16);  // >= 4 vectors per thread: 8192 columns a chunk
  EXPECT_GE(int64_t{s.chunks} * s.chunk_cols, 128256);
  EXPECT_LT(int64_t{s.chunks - 1} * s.chunk_cols, 128256);  // no empty chunk
  d.x = dense(kF32, {64, 256000});
  s = plan_argmax(d, 132);
  EXPECT_EQ(s.chunks, 5);  // 64 x 5 blocks: about two per SM
  EXPECT_EQ(s.grid_y, 64);
  d.x = dense(kF32, {16384, 32000});
  s = plan_argmax(d, 132);
  EXPECT_EQ(s.chunks, 1);  // enough rows already: single pass, no partials
  d.x.strides[3] = 2;      // strided rows: scalar loads
  s = plan_argmax(d, 132);
  EXPECT_FALSE(s.vec);
  EXPECT_EQ(s.chunk_cols % 256, 0);
  d.x = dense(kI8, {1, 4096});
  EXPECT_FALSE(plan_argmax(d, 132).vec);
  d.x = dense(kI32, {1, 4096});
  EXPECT_TRUE(plan_argmax(d, 132).vec);
  d.x = dense(kF32, {100000, 7});  // rows beyond the y-grid limit are grid-strided
  EXPECT_EQ(plan_argmax(d, 132).grid_y, 65535);
}

TEST(CudaRowsPlan, ElementwiseRowsVectoriseBroadcastBias) {
  ElementwiseDesc d;
  d.kind = kAdd;
  d.out = d.a = dense(kBF16, {512, 4096});
  d.b = dense(kBF16, {4096});  // bias [N] over [M, N]: zero row strides
  for (int i = 0; i < 3; ++i) d.b.shape[i] = d.out.shape[i];
  d.n = 512 * 4096;
  VecRowsLaunch p;
  ASSERT_TRUE(plan_elementwise_rows(d, true, &p));
  EXPECT_EQ(p.rows, 512);
  EXPECT_EQ(p.cols, 4096);
  EXPECT_EQ(p.vec, 8);
  EXPECT_EQ(p.block_x, 128);  // 512 vectors a row, four per thread
  EXPECT_EQ(p.block_y, 2);
  EXPECT_EQ(p.grid_x, 1);
  EXPECT_EQ(p.grid_y, 256);
  d.dense = true;  // contiguous operands: one row of n
  d.b = d.a;
  ASSERT_TRUE(plan_elementwise_rows(d, true, &p));
  EXPECT_EQ(p.rows, 1);
  EXPECT_EQ(p.cols, 512 * 4096);
  EXPECT_EQ(p.block_x, 256);
  EXPECT_EQ(p.grid_x, 512 * 4096 / 8 / 1024);
  d.n = 512 * 4096 - 1;  // not whole vectors: the older dense kernel takes it
  EXPECT_FALSE(plan_elementwise_rows(d, true, &p));
  d.dense = false;
  d.out = d.a = dense(kF32, {1000, 64});  // short rows: several per block
  d.n = 64000;
  ASSERT_TRUE(plan_elementwise_rows(d, false, &p));
  EXPECT_EQ(p.block_x, 32);
  EXPECT_EQ(p.block_y, 8);
  EXPECT_EQ(p.grid_y, 125);
  d.a.strides[3] = 0;  // a scalar broadcast along the row
  EXPECT_FALSE(plan_elementwise_rows(d, false, &p));
}

// Every vector of every row is reached: grid_x * block_x threads per row, grid-strided.
TEST(CudaRowsPlan, VecRowShapesCoverTheRows) {
  for (int64_t rows : {int64_t{1}, int64_t{3}, int64_t{1000}, int64_t{1} << 20})
    for (int64_t vcols : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{512}, int64_t{100003}}) {
      const VecRowsLaunch p = vec_rows_shape(rows, vcols * 8, 8);
      EXPECT_EQ(p.block_x * p.block_y, 256);
      EXPECT_GE(p.block_x, 32);
      EXPECT_GE(int64_t{p.grid_x} * p.block_x * 4, vcols);  // <= 4 vectors per thread per row
      EXPECT_GE(p.grid_y, 1);
      EXPECT_LE(p.grid_y, 65535);
      EXPECT_GE(int64_t{p.grid_y} * p.block_y, std::min<int64_t>(rows, int64_t{65535} * p.block_y));
    }
}

TEST(CudaRowsPlan, CopyEmbeddingAndFill) {
  ElementwiseDesc c;
  c.kind = kCopy;
  c.out = dense(kBF16, {2, 32, 64, 128});
  c.a = c.out;  // a [B, S, H, D] cache read as [B, H, S, D]: D stays contiguous
  c.a.strides[1] = 128;
  c.a.strides[2] = 32 * 128;
  c.n = 2 * 32 * 64 * 128;
  VecRowsLaunch p;
  ASSERT_TRUE(plan_copy_rows(c, &p));
  EXPECT_EQ(p.rows, 2 * 32 * 64);
  EXPECT_EQ(p.vec, 8);
  c.a.strides[3] = 64;  // a full transpose: elementwise copy kernel
  EXPECT_FALSE(plan_copy_rows(c, &p));

  EmbeddingDesc e;
  e.table = dense(kBF16, {128256, 4096});
  e.ids = dense(kI32, {7});
  e.out = dense(kBF16, {7, 4096});
  ASSERT_TRUE(plan_embedding_rows(e, &p));
  EXPECT_EQ(p.rows, 7);
  EXPECT_EQ(p.cols, 4096);
  e.table.strides[2] = 4097;
  EXPECT_FALSE(plan_embedding_rows(e, &p));
  e.table = dense(kF32, {128256, 4096});  // cast on gather: the converting kernel
  EXPECT_FALSE(plan_embedding_rows(e, &p));

  ElementwiseDesc k;  // dense casts between float dtypes
  k.kind = kCast;
  k.a = dense(kF32, {1000});
  k.out = dense(kBF16, {1000});
  k.n = 1000;
  k.dense = true;
  EXPECT_TRUE(plan_cast_vec(k));
  k.out = dense(kBF16, {1000}, kBase + 2);
  EXPECT_FALSE(plan_cast_vec(k));
  k.out = dense(kI32, {1000});
  EXPECT_FALSE(plan_cast_vec(k));
  k.out = dense(kF32, {1000});  // same dtype: a copy, not a cast
  EXPECT_FALSE(plan_cast_vec(k));
  k.out = dense(kF16, {1000});
  k.dense = false;
  EXPECT_FALSE(plan_cast_vec(k));

  FillDesc f;
  f.dst = dense(kF16, {1000});
  f.n = 1000;
  EXPECT_TRUE(fill_vec16_eligible(f, true));
  EXPECT_FALSE(fill_vec16_eligible(f, false));
  f.dst = dense(kI8, {1000});
  EXPECT_FALSE(fill_vec16_eligible(f, true));
}

}  // namespace
}  // namespace porta::cuda
