// The communicator every test of a multi-rank run shares (made once in comm_main.cpp over
// MPI_COMM_WORLD on the device PORTA_DEVICE selects), and host data helpers.
#pragma once

#include <cstdint>
#include <vector>

#include "porta/comm.h"
#include "porta/porta.h"

namespace commtest {

porta::Communicator& world();
porta::Stream& stream();

/// Element i of rank r's input for a test with `seed`, as the dtype stores it (host bytes).
std::vector<char> make_input(porta::DType t, int64_t n, int rank, uint32_t seed);
/// Rank-order reduction of every rank's make_input (f32 accumulation, one rounding): what
/// all_reduce must return bit for bit on the mpi transport.
std::vector<char> expected_reduce(porta::DType t, int64_t n, int ranks, uint32_t seed, porta::ReduceOp op);

porta::Tensor upload(porta::DType t, int64_t n, const std::vector<char>& host);
std::vector<char> download(const porta::Tensor& t);

}  // namespace commtest
