# The `hip` backend: src/backends/cuda and kernels/cuda built a second time with hipcc
# through the HIP branch of kernels/cuda/porta_cuda_runtime.h (Hygon DCU, AMD Instinct).
# PORTA_WITH_HIP=AUTO|ON|OFF (default AUTO: builds when hipcc and libamdhip64 are found).
include_guard(GLOBAL)
