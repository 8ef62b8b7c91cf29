#!/usr/bin/env bash
# The bundle test: makes the tarball from BUILD_DIR, unpacks it in a fresh temporary
# directory, checks that every library its binaries load resolves inside the bundle (or
# is the host's C library), then runs porta-info and porta-bench --quick from it with an
# empty environment.
#
#   tools/bundle/test-bundle.sh BUILD_DIR
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "$1" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$repo/tools/bundle/make-bundle.sh" "$build" "$work/porta.tar.gz"
mkdir "$work/unpacked"
tar -C "$work/unpacked" -xzf "$work/porta.tar.gz"
root="$(find "$work/unpacked" -mindepth 1 -maxdepth 1 -type d)"

fail=0
host_only='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so)'
for elf in "$root"/bin/* "$root"/lib/*.so* "$root"/lib/porta/*.so; do
  [[ -f "$elf" ]] || continue
  while read -r soname path; do
    [[ "$soname" =~ $host_only ]] && continue
    if [[ "$path" != "$root"/* ]]; then
      echo "test-bundle: $(basename "$elf") loads $soname from $path, outside the bundle" >&2
      fail=1
    fi
  done < <(env -i ldd "$elf" | awk '$2 == "=>" {print $1, $3}')
done

clean=(env -i "HOME=$work" "PATH=/usr/bin:/bin")
echo "test-bundle: porta-info from $root"
"${clean[@]}" "$root/bin/porta-info" || fail=1
echo "test-bundle: porta-bench --quick from $root"
# One GEMM shape with its OpenBLAS baseline and short windows: the test is that porta-bench
# starts, measures the host and runs a suite from the bundle, not the figures.
"${clean[@]}" "$root/bin/porta-bench" --quick --benchmark_min_time=0.01 --benchmark_filter='gemm/f32/M=512/' || fail=1
echo "test-bundle: llama_layer from $root"
"${clean[@]}" "$root/bin/llama_layer" --steps 2 || fail=1
echo "test-bundle: porta-run from $root"
"${clean[@]}" "$root/bin/porta-run" --synthetic tiny -n 4 --device cpu || fail=1
exit $fail
