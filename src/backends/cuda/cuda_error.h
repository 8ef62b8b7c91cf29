// CUDA runtime statuses as porta errors. Every runtime call goes through check(): a
// non-success status becomes a porta::Error naming the call and what to do; statuses after
// which the context cannot be trusted (illegal address, ECC, launch failure, ...) become
// Errc::device_lost, which core makes sticky.
#pragma once

#include <string>

#include "porta/error.h"

namespace porta::cuda {

/// The porta error class of a runtime status (pcError_t's value).
Errc errc_for_status(int status);

/// Whether the status poisons the context (every later call fails with it).
bool is_sticky_status(int status);

/// "cudaErrorIllegalAddress (an illegal memory access was encountered)".
std::string status_text(int status);

/// The message porta reports for a failed call: names the call, the status and the fix.
std::string error_message(const std::string& call, int status);

/// Throws porta::Error for a non-zero status.
void check(int status, const std::string& call);

}  // namespace porta::cuda
