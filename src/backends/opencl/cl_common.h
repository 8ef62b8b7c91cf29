// The one place the OpenCL headers are included (OpenCL C 1.2 API surface only), and the
// translation of OpenCL status codes into porta::Error.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>

#include "porta/error.h"

namespace porta::opencl {

/// "CL_OUT_OF_RESOURCES" for a status code ("CL status -9999" when unknown).
std::string cl_status_name(cl_int status);

/// The Errc an OpenCL status maps to: allocation and resource exhaustion become
/// out_of_memory (the context stays usable), a vanished device device_lost, the rest internal.
Errc errc_for(cl_int status);

/// Throws porta::Error for a failed call; `what` names the porta operation and the call.
[[noreturn]] void throw_cl(cl_int status, const std::string& what);

inline void check(cl_int status, const char* what) {
  if (status != CL_SUCCESS) throw_cl(status, what);
}

}  // namespace porta::opencl
