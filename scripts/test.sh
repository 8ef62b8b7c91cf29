#!/usr/bin/env bash
# The test command (README, "Set up"; .ci/run runs exactly this):
#   1. scripts/install-deps.sh
#   2. release preset: configure, build, ctest with every label (bigmem and install too)
#   3. asan preset (ASan + UBSan, no CUDA): configure, build, ctest without the
#      bigmem label (README says why); the install test builds its consumer with the
#      same sanitizers
# Every step that can run does; a summary with times follows, and the exit status is
# non-zero when any step failed.
#
#   scripts/test.sh [--skip-deps] [--release-only] [--asan-only]
#
# Environment: PORTA_TEST_JOBS (build/test parallelism, default: number of cores);
# PORTA_DEVICE / PORTA_TEST_DEVICES pass through to the tests.
set -uo pipefail

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
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg'" >&2; exit 64 ;;
  esac
done

jobs="${PORTA_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
if command -v ccache >/dev/null 2>&1; then
  # CMakeLists.txt uses ccache as the compiler launcher; a repo-relative base
  # directory lets fresh clones in other directories share the cache.
  export CCACHE_BASEDIR="$repo"
  export CCACHE_NOHASHDIR=1
fi

start_all=$SECONDS
summary=()
failed=0

step() { # step NAME COMMAND...: runs, times and records one step; returns its status
  local name="$1"
  shift
  local t0=$SECONDS
  echo
  echo "==== test.sh: $name: $*"
  "$@"
  local rc=$?
  local secs=$((SECONDS - t0))
  if [[ $rc -eq 0 ]]; then
    summary+=("$(printf 'ok    %3dm%02ds  %s' $((secs / 60)) $((secs % 60)) "$name")")
  else
    summary+=("$(printf 'FAIL  %3dm%02ds  %s (exit %d)' $((secs / 60)) $((secs % 60)) "$name" "$rc")")
    failed=1
  fi
  return $rc
}

finish() {
  local secs=$((SECONDS - start_all))
  echo
  echo "==== test.sh summary"
  printf '  %s\n' "${summary[@]}"
  if command -v ccache >/dev/null 2>&1; then
    ccache -s 2>/dev/null | grep -Ei 'hits|misses' | head -3 | sed 's/^/  ccache: /' || true
  fi
  printf '  total %dm%02ds: %s\n' $((secs / 60)) $((secs % 60)) "$([[ $failed -eq 0 ]] && echo PASSED || echo FAILED)"
  exit $failed
}

if [[ $skip_deps -eq 0 ]]; then
  step "install-deps" scripts/install-deps.sh || finish
fi

if [[ $run_release -eq 1 ]]; then
  if step "release: configure" cmake --preset release -DPORTA_BUILD_TESTS=ON &&
    step "release: build" cmake --build --preset release -j "$jobs"; then
    step "release: ctest (all labels)" ctest --preset release -j "$jobs"
  fi
fi

if [[ $run_asan -eq 1 ]]; then
  export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  if step "asan: configure" cmake --preset asan -DPORTA_BUILD_TESTS=ON -DPORTA_WITH_CUDA=OFF &&
    step "asan: build" cmake --build --preset asan -j "$jobs"; then
    step "asan: ctest (without label bigmem)" ctest --preset asan -j "$jobs" -LE bigmem
  fi
fi

finish
