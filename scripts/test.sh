#!/usr/bin/env bash
# porta's test command (README, "Set-up"): installs the Debian packages, builds the
# release preset with tests and runs every CTest label, then builds the asan preset
# (AddressSanitizer + UndefinedBehaviorSanitizer) and runs everything except the
# `bigmem` label (a >2^31-element tensor is too heavy under ASan's shadow memory).
# Exit status is non-zero when any phase fails. Elapsed time is printed per phase.
#
#   scripts/test.sh [--skip-deps] [--release-only] [--asan-only]
#
# Environment: PORTA_TEST_JOBS (build/test parallelism, default: number of cores),
# PORTA_DEVICE / PORTA_TEST_DEVICES pass through to the tests.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

skip_deps=0
run_release=1
run_asan=1
for arg in "$@"; do
  case "$arg" in
    --skip-deps) skip_deps=1 ;;
    --release-only) run_asan=0 ;;
    --asan-only) run_release=0 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg'" >&2; exit 64 ;;
  esac
done

jobs="${PORTA_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
export CTEST_PARALLEL_LEVEL="$jobs"
if command -v ccache >/dev/null 2>&1; then
  # CMakeLists.txt picks ccache up as the compiler launcher; a repo-relative base
  # directory lets fresh clones share the cache.
  export CCACHE_BASEDIR="$repo"
  export CCACHE_NOHASHDIR=1
fi

start_all=$(date +%s)
phase_start=0
phase_name=""
summary=()
begin() {
  phase_name="$1"
  phase_start=$(date +%s)
  echo
  echo "==== test.sh: $phase_name"
}
end() {
  local secs=$(( $(date +%s) - phase_start ))
  summary+=("$(printf '%-34s %4dm%02ds' "$phase_name" $((secs / 60)) $((secs % 60)))")
  echo "==== test.sh: $phase_name done in ${secs}s"
}
report() {
  local rc=$?
  local secs=$(( $(date +%s) - start_all ))
  echo
  echo "==== test.sh summary"
  for line in "${summary[@]}"; do echo "  $line"; done
  if [[ $rc -ne 0 && -n "$phase_name" ]]; then echo "  FAILED in: $phase_name (exit $rc)"; fi
  printf '  total %dm%02ds, %s\n' $((secs / 60)) $((secs % 60)) "$([[ $rc -eq 0 ]] && echo PASSED || echo FAILED)"
  if command -v ccache >/dev/null 2>&1; then ccache -s 2>/dev/null | grep -Ei 'hits|misses' | head -3 | sed 's/^/  ccache: /' || true; fi
}
trap report EXIT

if [[ $skip_deps -eq 0 ]]; then
  begin "install-deps"
  scripts/install-deps.sh
  end
fi

if [[ $run_release -eq 1 ]]; then
  begin "release: configure"
  cmake --preset release
  end
  begin "release: build"
  cmake --build --preset release
  end
  begin "release: ctest (all labels)"
  ctest --preset release -j "$jobs"
  end
fi

if [[ $run_asan -eq 1 ]]; then
  export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  begin "asan: configure"
  cmake --preset asan
  end
  begin "asan: build"
  cmake --build --preset asan
  end
  begin "asan: ctest (without label bigmem)"
  ctest --preset asan -j "$jobs" -LE bigmem
  end
fi
phase_name=""
