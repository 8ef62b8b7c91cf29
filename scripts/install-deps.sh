#!/usr/bin/env bash
# Installs the Debian 12 packages porta's build, tests and benchmarks need.
# Idempotent: packages already present are skipped; nothing is installed when all are.
# Usage: scripts/install-deps.sh [--with-gpu-apis]
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev
  # porta-run: command line and JSON (config.json, safetensors headers, --json output);
  # ICU's regex engine for the BPE pre-tokenizers' Unicode classes (--text)
  libcli11-dev nlohmann-json3-dev libicu-dev
  python3 patchelf
  # fuzzing (scripts/fuzz.sh): clang 14 with libFuzzer and its sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # Vulkan backend: loader + headers, shader compiler, lavapipe (software device the
  # tests run on), the Khronos validation layer the tests enable
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-validationlayers
  # OpenCL backend: ICD loader + headers, PoCL (CPU device the tests run on), CLBlast baseline
  ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd libclblast-dev
  # hip backend: the cuda sources built by Debian's HIP toolchain, proving the CUDA-dialect
  # path (the tests check that the module loads and reports no device)
  hipcc libamdhip64-dev rocm-device-libs
  # collectives: the MPI transport module and the multi-rank tests (mpirun)
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
