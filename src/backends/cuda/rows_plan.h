// How the row and element-wise ops are cut into threads: plain C++ over the kernel
// descriptors (kernels/cuda/kernel_args.h), unit-tested without a GPU. Each plan_* returns
// false when the bandwidth path does not apply (strides, alignment, dtypes, lengths); the
// caller then runs the strided fallback kernel. Device-agnostic: the kernels reduce over
// 32-lane groups (kGroup), so the same plan serves 32-wide warps and 64-wide wavefronts.
#pragma once

#include <cstdint>

#include "kernels/cuda/kernel_args.h"

namespace porta::cuda {

/// Bytes of one element of a KDType.
int kdtype_bytes(int32_t dt);

/// Whether `t`, read over the op's logical `shape` (broadcast dims have stride 0), can be
/// moved as 16-byte vectors along its last dim: unit stride there, rows of cols elements
/// filling whole vectors (cols * size % 16 == 0), 16-byte aligned base, and every row start
/// 16-byte aligned too (strides of dims with extent > 1 are multiples of 16 bytes).
bool rows_vectorizable(const TDesc& t, const int64_t* shape);

/// Dense norms and softmax. A row of D elements (D a multiple of the 16-byte vector of x's
/// dtype) stays in registers, at most 32 floats per thread: rows of up to 1024 elements take
/// one 32-lane group each (8 rows per 256-thread block); longer rows one block each, of the
/// power of two threads that gives <= 2 vectors per thread (<= 1024 threads, <= 16 floats
/// each: rows up to 16384 elements). The grid is capped at 8 waves of resident blocks.
bool plan_rows(int64_t rows, int64_t D, int32_t dtype, int sm_count, RowsLaunch* p);
bool plan_norm(const NormDesc& d, int sm_count, RowsLaunch* p);
bool plan_softmax(const SoftmaxDesc& d, int sm_count, RowsLaunch* p);

/// Vectorised rope: x/out rows 16-byte vectorizable, the rotated half (NeoX) or the rotated
/// span (GPT-J) a whole number of vectors, rotary_dim <= 2 * kRopeMaxPairs.
constexpr int kRopeMaxPairs = 1024;
bool plan_rope(const RopeDesc& d, int sm_count, RopeLaunch* p);

/// Argmax: always applies (vec says whether 16-byte loads do). Chunks per row aim at two
/// blocks per SM overall, each chunk at least four vectors per thread.
ArgmaxSplit plan_argmax(const ArgmaxDesc& d, int sm_count);

/// Element-wise float ops (silu_mul, gelu, add, mul, scale; binary: b is read), strided
/// same-dtype copies, and embedding rows, by rows of 16-byte vectors. Dense operands
/// (d.dense) are one row of n elements; others rows of out's last dim, each operand
/// addressed through its strides (a bias [N] broadcast over [M, N] included).
bool plan_elementwise_rows(const ElementwiseDesc& d, bool binary, VecRowsLaunch* p);
bool plan_copy_rows(const ElementwiseDesc& d, VecRowsLaunch* p);
bool plan_embedding_rows(const EmbeddingDesc& d, VecRowsLaunch* p);
/// Block and grid of a VecRowsLaunch for rows x cols elements in vectors of `vec`: about
/// four vectors of a row per thread, 256 threads a block (several short rows per block).
VecRowsLaunch vec_rows_shape(int64_t rows, int64_t cols, int vec);

/// A dense cast between two different float dtypes with both pointers 16-byte aligned: the
/// 8-elements-a-step kernel (the host flags it through ElementwiseDesc::vec4).
bool plan_cast_vec(const ElementwiseDesc& d);
/// Fill of a contiguous, 16-byte aligned f16/bf16/f32/i32 tensor.
bool fill_vec16_eligible(const FillDesc& d, bool contiguous);

}  // namespace porta::cuda
