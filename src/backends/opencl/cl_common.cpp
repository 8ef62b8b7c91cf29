#include "backends/opencl/cl_common.h"

namespace porta::opencl {

std::string cl_status_name(cl_int status) {
  switch (status) {
#define PORTA_CL_CASE(x) \
  case x: return #x;
    PORTA_CL_CASE(CL_SUCCESS)
    PORTA_CL_CASE(CL_DEVICE_NOT_FOUND)
    PORTA_CL_CASE(CL_DEVICE_NOT_AVAILABLE)
    PORTA_CL_CASE(CL_COMPILER_NOT_AVAILABLE)
    PORTA_CL_CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    PORTA_CL_CASE(CL_OUT_OF_RESOURCES)
    PORTA_CL_CASE(CL_OUT_OF_HOST_MEMORY)
    PORTA_CL_CASE(CL_PROFILING_INFO_NOT_AVAILABLE)
    PORTA_CL_CASE(CL_MEM_COPY_OVERLAP)
    PORTA_CL_CASE(CL_BUILD_PROGRAM_FAILURE)
    PORTA_CL_CASE(CL_MAP_FAILURE)
    PORTA_CL_CASE(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    PORTA_CL_CASE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    PORTA_CL_CASE(CL_COMPILE_PROGRAM_FAILURE)
    PORTA_CL_CASE(CL_LINK_PROGRAM_FAILURE)
    PORTA_CL_CASE(CL_INVALID_VALUE)
    PORTA_CL_CASE(CL_INVALID_DEVICE_TYPE)
    PORTA_CL_CASE(CL_INVALID_PLATFORM)
    PORTA_CL_CASE(CL_INVALID_DEVICE)
    PORTA_CL_CASE(CL_INVALID_CONTEXT)
    PORTA_CL_CASE(CL_INVALID_QUEUE_PROPERTIES)
    PORTA_CL_CASE(CL_INVALID_COMMAND_QUEUE)
    PORTA_CL_CASE(CL_INVALID_HOST_PTR)
    PORTA_CL_CASE(CL_INVALID_MEM_OBJECT)
    PORTA_CL_CASE(CL_INVALID_BINARY)
    PORTA_CL_CASE(CL_INVALID_BUILD_OPTIONS)
    PORTA_CL_CASE(CL_INVALID_PROGRAM)
    PORTA_CL_CASE(CL_INVALID_PROGRAM_EXECUTABLE)
    PORTA_CL_CASE(CL_INVALID_KERNEL_NAME)
    PORTA_CL_CASE(CL_INVALID_KERNEL_DEFINITION)
    PORTA_CL_CASE(CL_INVALID_KERNEL)
    PORTA_CL_CASE(CL_INVALID_ARG_INDEX)
    PORTA_CL_CASE(CL_INVALID_ARG_VALUE)
    PORTA_CL_CASE(CL_INVALID_ARG_SIZE)
    PORTA_CL_CASE(CL_INVALID_KERNEL_ARGS)
    PORTA_CL_CASE(CL_INVALID_WORK_DIMENSION)
    PORTA_CL_CASE(CL_INVALID_WORK_GROUP_SIZE)
    PORTA_CL_CASE(CL_INVALID_WORK_ITEM_SIZE)
    PORTA_CL_CASE(CL_INVALID_GLOBAL_OFFSET)
    PORTA_CL_CASE(CL_INVALID_EVENT_WAIT_LIST)
    PORTA_CL_CASE(CL_INVALID_EVENT)
    PORTA_CL_CASE(CL_INVALID_OPERATION)
    PORTA_CL_CASE(CL_INVALID_BUFFER_SIZE)
    PORTA_CL_CASE(CL_INVALID_GLOBAL_WORK_SIZE)
#undef PORTA_CL_CASE
    default: return "CL status " + std::to_string(status);
  }
}

Errc errc_for(cl_int status) {
  switch (status) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_OUT_OF_HOST_MEMORY:
    case CL_INVALID_BUFFER_SIZE: return Errc::out_of_memory;
    case CL_DEVICE_NOT_AVAILABLE:
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST: return Errc::device_lost;
    default: return Errc::internal;
  }
}

void throw_cl(cl_int status, const std::string& what) {
  const Errc e = errc_for(status);
  std::string msg = "opencl: " + what + " failed with " + cl_status_name(status);
  if (e == Errc::out_of_memory)
    msg += "; the device ran out of memory or resources: free tensors or use smaller shapes";
  else if (e == Errc::device_lost)
    msg += "; the OpenCL device is no longer usable: re-create it (restart the process)";
  else
    msg += "; this is a porta or driver bug: please report it with PORTA_LOG_LEVEL=debug output";
  throw Error(e, msg);
}

}  // namespace porta::opencl
