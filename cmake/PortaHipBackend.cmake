# The `hip` backend: src/backends/cuda and kernels/cuda built a second time, device code by
# hipcc, through the HIP branch of kernels/cuda/porta_cuda_runtime.h (Hygon DCU, AMD
# Instinct). It proves the portable path builds with a CUDA-dialect toolchain by swapping
# that one header. Included from src/backends/cuda/CMakeLists.txt, which lists the sources.
#
# PORTA_WITH_HIP=AUTO|ON|OFF. AUTO builds when hipcc, libamdhip64 and the HIP headers are
# found (Debian: hipcc libamdhip64-dev rocm-device-libs). Plugin builds only (libamdhip64 is
# a shared library a static libporta must not depend on), and not in sanitizer builds:
# device code is compiled once, in the release build.
include_guard(GLOBAL)

set(PORTA_WITH_HIP AUTO CACHE STRING "Build the hip backend (the cuda sources through hipcc): AUTO|ON|OFF")
set(PORTA_HIP_ARCHITECTURES "gfx906;gfx90a" CACHE STRING "AMD GPU targets of the hip backend")

function(_porta_add_hip_backend)
  string(TOUPPER "${PORTA_WITH_HIP}" with)
  if(with STREQUAL "OFF")
    return()
  endif()
  find_program(PORTA_HIPCC hipcc)
  find_library(PORTA_AMDHIP64 amdhip64)
  find_path(PORTA_HIP_INCLUDE_DIR hip/hip_runtime_api.h)
  set(why "")
  if(NOT PORTA_HIPCC OR NOT PORTA_AMDHIP64 OR NOT PORTA_HIP_INCLUDE_DIR)
    set(why "hipcc, libamdhip64 or the HIP headers were not found (Debian: hipcc libamdhip64-dev rocm-device-libs)")
  elseif(NOT PORTA_BACKENDS_AS_PLUGINS)
    set(why "PORTA_BACKENDS_AS_PLUGINS=OFF: the hip backend is built only as a plugin module")
  elseif(PORTA_SANITIZE)
    set(why "sanitizer build: device code is compiled once, in the release build")
  endif()
  if(why)
    if(with STREQUAL "ON" AND NOT PORTA_SANITIZE)
      message(FATAL_ERROR "PORTA_WITH_HIP=ON but ${why}; or use PORTA_WITH_HIP=AUTO")
    endif()
    message(STATUS "porta: hip backend skipped (${why})")
    return()
  endif()

  set(archs "")
  foreach(a ${PORTA_HIP_ARCHITECTURES})
    list(APPEND archs "--offload-arch=${a}")
  endforeach()
  set(opt -O3)
  if(CMAKE_BUILD_TYPE STREQUAL "Debug")
    set(opt -O0 -g)
  endif()
  file(GLOB headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/cuda/*.h ${PROJECT_SOURCE_DIR}/kernels/cuda/*.cuh)
  set(launcher "")
  if(CCACHE_PROGRAM)
    set(launcher ${CCACHE_PROGRAM})
  endif()
  set(objects "")
  foreach(src ${PORTA_CUDA_KERNEL_SOURCES})
    get_filename_component(stem ${src} NAME_WE)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/hip/${stem}.o)
    add_custom_command(OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/hip
      COMMAND ${launcher} ${PORTA_HIPCC} -x hip ${archs} -std=c++17 ${opt} -fPIC -fvisibility=hidden
              -DPORTA_DIALECT_HIP -I${PROJECT_SOURCE_DIR} -I${PROJECT_SOURCE_DIR}/kernels/cuda -c ${src} -o ${obj}
      DEPENDS ${src} ${headers}
      COMMENT "hipcc ${stem}.cu (${PORTA_HIP_ARCHITECTURES})" VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  set_source_files_properties(${objects} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)

  add_library(porta_backend_hip MODULE ${PORTA_CUDA_HOST_SOURCES} ${objects})
  set_target_properties(porta_backend_hip PROPERTIES PREFIX "" OUTPUT_NAME libporta_backend_hip LINKER_LANGUAGE CXX)
  target_compile_definitions(porta_backend_hip PRIVATE PORTA_DIALECT_HIP __HIP_PLATFORM_AMD__)
  target_include_directories(porta_backend_hip PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
                                                       ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/kernels/cuda)
  target_include_directories(porta_backend_hip SYSTEM PRIVATE ${PORTA_HIP_INCLUDE_DIR})
  target_link_libraries(porta_backend_hip PRIVATE porta ${PORTA_AMDHIP64})
  porta_warnings(porta_backend_hip)
  porta_install_backend_module(porta_backend_hip)
  message(STATUS "porta: hip backend enabled (${PORTA_HIPCC}, ${PORTA_HIP_ARCHITECTURES})")
endfunction()

_porta_add_hip_backend()
