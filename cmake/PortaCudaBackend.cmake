# Helpers of the CUDA backend (src/backends/cuda/CMakeLists.txt): find the toolkit, list
# the sources, and add the module (or the object library linked into libporta).
include_guard(GLOBAL)

function(porta_cuda_backend_sources host_var kernel_var)
  file(GLOB host CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/backends/cuda/*.cpp)
  file(GLOB kernels CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/cuda/*.cu)
  set(${host_var} ${host} PARENT_SCOPE)
  set(${kernel_var} ${kernels} PARENT_SCOPE)
endfunction()

# Finds nvcc and cudart and enables the CUDA language. found_var: TRUE/FALSE; why_var: the
# reason when not found.
macro(porta_find_cuda found_var why_var)
  set(${found_var} FALSE)
  find_package(CUDAToolkit QUIET)
  if(NOT CUDAToolkit_FOUND)
    set(${why_var} "the CUDA Toolkit was not found")
  elseif(NOT TARGET CUDA::cudart_static)
    set(${why_var} "the CUDA Toolkit has no static cudart (libcudart_static.a)")
  else()
    if(NOT CMAKE_CUDA_COMPILER AND CUDAToolkit_NVCC_EXECUTABLE)
      set(CMAKE_CUDA_COMPILER "${CUDAToolkit_NVCC_EXECUTABLE}")
    endif()
    include(CheckLanguage)
    check_language(CUDA)
    if(NOT CMAKE_CUDA_COMPILER)
      set(${why_var} "no working CUDA compiler (nvcc) was found")
    else()
      # SASS for A800/A100 (sm_80; also runs on sm_86/89) and H100/H20 (sm_90a, for the
      # wgmma/TMA kernels), plus compute_90 PTX that newer GPUs JIT-compile.
      if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
        set(CMAKE_CUDA_ARCHITECTURES "80-real;90a-real;90-virtual")
      endif()
      enable_language(CUDA)
      set(${found_var} TRUE)
    endif()
  endif()
endmacro()

# The warning set of porta_warnings(), for the C++ sources of a mixed C++/CUDA target
# (nvcc does not take GCC's warning flags directly).
function(porta_cuda_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter>)
  endif()
endfunction()

function(porta_add_cuda_backend name)
  set(target porta_backend_${name})
  if(PORTA_BACKENDS_AS_PLUGINS)
    add_library(${target} MODULE ${PORTA_CUDA_HOST_SOURCES} ${PORTA_CUDA_KERNEL_SOURCES})
    set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME libporta_backend_${name})
    target_link_libraries(${target} PRIVATE porta CUDA::cudart_static)
    porta_install_backend_module(${target})
  else()
    add_library(${target} OBJECT ${PORTA_CUDA_HOST_SOURCES} ${PORTA_CUDA_KERNEL_SOURCES})
    target_compile_definitions(${target} PRIVATE PORTA_BACKEND_STATIC)
    target_link_libraries(${target} PUBLIC CUDA::cudart_static)
  endif()
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
                                               ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/kernels/cuda)
  target_include_directories(${target} SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
                                             CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Static)
  # -lineinfo: profilers map SASS to source lines; it does not change the code.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo --expt-relaxed-constexpr
                                           -Xcompiler=-fvisibility=hidden>)
  # The project's rule "no register spills" as a build failure (ptxas reports every spill
  # and turns warnings into errors). The test command sets it; it is off by default so that a
  # toolkit other than the one the kernels are tuned with (CUDA 13) still builds.
  if(PORTA_CUDA_NO_SPILLS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=--warn-on-spills,--warning-as-error>)
  endif()
  # The wgmma/TMA kernels exist only in sm_90a code (their compute_90 PTX has no body): the
  # host selects them only when this build carries it (90a, 90a-real, or 90a-virtual PTX).
  if(CMAKE_CUDA_ARCHITECTURES MATCHES "(^|;)90a(-real|-virtual)?($|;)")
    target_compile_definitions(${target} PRIVATE PORTA_CUDA_SM90A_SASS)
  endif()
  porta_cuda_warnings(${target})
endfunction()
