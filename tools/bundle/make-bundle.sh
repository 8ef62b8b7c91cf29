#!/usr/bin/env bash
# Makes a relocatable tarball of porta for an air-gapped accelerator host: porta-info,
# porta-bench, llama_layer, porta-run, libporta, the backend modules, and every shared library they
# need that a bare Linux host may lack, all with $ORIGIN-relative RPATHs so the tree runs
# from wherever it is unpacked, with no environment set.
#
#   tools/bundle/make-bundle.sh [BUILD_DIR [OUT.tar.gz]]
#
# BUILD_DIR defaults to build/release, OUT to porta-<version>-<arch>.tar.gz in the current
# directory. Not bundled: the C library family (libc, libm, libdl, libpthread, librt,
# ld-linux: the host's own must be used) and GPU drivers (libcuda, libnvidia-*, Vulkan
# ICDs, OpenCL ICDs): they come with the accelerator's driver install. The Vulkan and
# OpenCL loaders are bundled; they find the host's drivers through its ICD files.
# Needs patchelf (scripts/install-deps.sh installs it).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$repo/build/release}"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "make-bundle: $build is not a CMake build directory (build the release preset first)" >&2
  exit 2
fi
command -v patchelf >/dev/null || { echo "make-bundle: patchelf not found (scripts/install-deps.sh)" >&2; exit 2; }
for exe in porta-bench llama_layer porta-run; do
  [[ -n "$(find "$build" -name "$exe" -type f -perm -u+x -print -quit)" ]] ||
    { echo "make-bundle: $exe not built in $build (cmake --build $build)" >&2; exit 2; }
done

version="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")"
name="porta-${version:-dev}-$(uname -m)"
out="${2:-$PWD/$name.tar.gz}"
[[ "$out" = /* ]] || out="$PWD/$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/$name"

cmake --install "$build" --prefix "$stage" >/dev/null
rm -rf "$stage/include" "$stage/lib/cmake" "$stage/lib/pkgconfig" "$stage"/lib/*.a
mkdir -p "$stage/lib"

# The C runtime and GPU drivers stay the host's; everything else a binary needs comes along.
host_only='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libcuda\.so|libnvidia-|libnvcuda)'
elves() { find "$stage/bin" "$stage/lib" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print; }
copied=1
while [[ $copied -eq 1 ]]; do  # until closed: copied libraries have dependencies of their own
  copied=0
  while read -r elf; do
    while read -r soname path; do
      [[ -z "$path" || "$soname" =~ $host_only ]] && continue
      if [[ ! -e "$stage/lib/$soname" && ! -e "$stage/lib/porta/$soname" ]]; then
        cp -L "$path" "$stage/lib/$soname"
        chmod u+w "$stage/lib/$soname"
        copied=1
      fi
    done < <(LD_LIBRARY_PATH="$stage/lib" ldd "$elf" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
  done < <(elves)
done

# DT_RPATH (not RUNPATH) so it also applies to the dependencies of dependencies.
for f in "$stage"/bin/*; do patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$f"; done
for f in "$stage"/lib/*.so*; do [[ -L "$f" ]] || patchelf --force-rpath --set-rpath '$ORIGIN' "$f"; done
if [[ -d "$stage/lib/porta" ]]; then
  for f in "$stage"/lib/porta/*.so; do patchelf --force-rpath --set-rpath '$ORIGIN/..' "$f"; done
fi

cat > "$stage/README.txt" <<TXT
porta ${version:-dev} for $(uname -m), bundled $(date -u +%Y-%m-%d) from commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown).

  bin/porta-info            lists the devices porta finds (and why a backend found none)
  bin/porta-bench --quick   the benchmark suite, reduced set (PORTA_DEVICE picks the device)
  bin/llama_layer           one decoder layer on PORTA_DEVICE, checked against the cpu backend
  bin/porta-run             a GGUF / safetensors Llama or Qwen model end to end; --bench --synthetic llama3-8b
  lib/                      libporta, its dependencies; lib/porta/ the backend modules

Runs from any directory with no environment set. The host provides the C library and
the accelerator's driver (CUDA driver, Vulkan ICD, OpenCL ICD). See docs/porting-new-gpu.md
in the porta sources for the bring-up procedure.
TXT

tar -C "$work" -czf "$out" "$name"
echo "make-bundle: $out ($(du -h "$out" | cut -f1)): $(find "$stage" -type f | wc -l) files"
