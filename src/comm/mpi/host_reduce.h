// Element-wise reduction of n host arrays in rank order 0, 1, …, n-1: the fixed order that
// makes all_reduce and reduce_scatter bitwise identical on every rank and every run.
#pragma once

#include <cstddef>

#include "porta/comm.h"
#include "porta/dtype.h"

namespace porta::comm {

/// out[i] = parts[0][i] ⊕ parts[1][i] ⊕ … (left to right). Part r starts at parts + r·stride
/// bytes. f16/bf16 accumulate in f32 and round once; f32 in f32; i32 wraps. out may be part 0.
void reduce_in_rank_order(const char* parts, size_t stride, int n, void* out, size_t count, DType t, ReduceOp op);

}  // namespace porta::comm
