#!/usr/bin/env bash
# The test command (README, "Set up"; .ci/run runs exactly this):
#   1. scripts/install-deps.sh
#   2. release preset: configure, build, ctest with every label (bigmem and install too)
#   3. asan preset (ASan + UBSan, no CUDA): configure, build, ctest without the
#      bigmem label (README says why); the install test builds its consumer with the
#      same sanitizers
#   4. fuzz preset (clang 14, libFuzzer + ASan + UBSan, cpu backend): build, then every
#      fuzz target for PORTA_FUZZ_SECONDS (default 20) each (scripts/fuzz.sh)
#   5. tsan preset (ThreadSanitizer, core + cpu backend): the thread tests (scripts/tsan.sh)
# Every step that can run does; a summary with times follows, and the exit status is
# non-zero when any step failed.
#
#   scripts/test.sh [--skip-deps] [--release-only] [--asan-only] [--no-fuzz] [--no-tsan]
#
# Environment: PORTA_TEST_JOBS (build/test parallelism, default: number of cores);
# PORTA_TEST_EXPECT (backends that must have a device, default: cpu plus vulkan / opencl
# when their software devices are installed, cuda when nvidia-smi lists a GPU; a device
# test of an expected backend fails instead of skipping); PORTA_DEVICE /
# PORTA_TEST_DEVICES pass through to the tests.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

skip_deps=0
run_release=1
run_asan=1
run_fuzz=1
run_tsan=1
for arg in "$@"; do
  case "$arg" in
    --skip-deps) skip_deps=1 ;;
    --release-only) run_asan=0 run_fuzz=0 run_tsan=0 ;;
    --asan-only) run_release=0 run_fuzz=0 run_tsan=0 ;;
    --no-fuzz) run_fuzz=0 ;;
    --no-tsan) run_tsan=0 ;;
    -h | --help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
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
counts=()
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
  [[ ${#counts[@]} -gt 0 ]] && printf '  %s\n' "${counts[@]}"
  if command -v ccache >/dev/null 2>&1; then
    ccache -s 2>/dev/null | grep -Ei 'hits|misses' | head -3 | sed 's/^/  ccache: /' || true
  fi
  printf '  total %dm%02ds: %s\n' $((secs / 60)) $((secs % 60)) "$([[ $failed -eq 0 ]] && echo PASSED || echo FAILED)"
  exit $failed
}

if [[ $skip_deps -eq 0 ]]; then
  step "install-deps" scripts/install-deps.sh || finish
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if [[ -z "${PORTA_TEST_EXPECT+set}" ]]; then
  # The backends this host must show: the ones whose devices install-deps put here.
  PORTA_TEST_EXPECT=cpu
  if installed libvulkan-dev && installed glslc && installed mesa-vulkan-drivers; then
    PORTA_TEST_EXPECT+=,vulkan
  fi
  if installed ocl-icd-opencl-dev && installed pocl-opencl-icd; then PORTA_TEST_EXPECT+=,opencl; fi
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    PORTA_TEST_EXPECT+=,cuda
  fi
fi
export PORTA_TEST_EXPECT
echo "test.sh: PORTA_TEST_EXPECT=$PORTA_TEST_EXPECT (device tests of these backends fail when the backend is absent; others skip)"

run_ctest() { # run_ctest PRESET ARGS...: ctest with its output kept; adds passed/skipped/failed counts to the summary
  local preset="$1"
  shift
  local log="build/$preset/ctest-output.log"
  ctest --preset "$preset" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local total failed skipped
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  skipped=$(grep -c '(Skipped)$' "$log")
  if [[ -n "$total" ]]; then
    counts+=("$(printf '%s ctest: %d passed, %d skipped, %d failed' "$preset" \
      $((total - failed - skipped)) "$skipped" "$failed")")
    local name why
    while read -r name; do  # the reason the test printed (LastTest.log keeps every test's output)
      why=$(awk -v t="$name" '/^[0-9]+\/[0-9]+ Testing: / {cur = $3} cur == t && /^SKIPPED: / {
        sub(/^SKIPPED: /, ""); print substr($0, 1, 160); exit }' "build/$preset/Testing/Temporary/LastTest.log")
      counts+=("  skipped: $name${why:+: $why}")
    done < <(sed -n 's/^\s*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log")
  fi
  return "$rc"
}

if [[ $run_release -eq 1 ]]; then
  if step "release: configure" cmake --preset release -DPORTA_BUILD_TESTS=ON -DPORTA_CUDA_NO_SPILLS=ON &&
    step "release: build" cmake --build --preset release -j "$jobs"; then
    step "release: ctest (all labels)" run_ctest release -j "$jobs"
  fi
fi

if [[ $run_asan -eq 1 ]]; then
  # intercept_tls_get_addr=0: clang 14's __tls_get_addr interceptor mistakes a dynamic TLS
  # block that happens to start 16 bytes into a page for a pre-2.25 glibc one, reads two words
  # before it as a range, and LSan's exit-time tracer then dies scanning it ("Tracer caught
  # signal 11"), a flake seen after a passing example_llama_layer_serve_f16 (lavapipe and PoCL
  # use dynamic TLS). Without the interceptor, dynamic TLS stays reachable through the DTV.
  export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:intercept_tls_get_addr=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  # Third-party libraries' leaks only (lavapipe, PoCL, Open MPI); the asan test preset sets the same.
  export LSAN_OPTIONS="suppressions=$repo/tests/sanitizers/lsan_third_party.supp"
  if step "asan: configure" cmake --preset asan -DPORTA_BUILD_TESTS=ON -DPORTA_WITH_CUDA=OFF &&
    step "asan: build" cmake --build --preset asan -j "$jobs"; then
    # The asan preset builds no CUDA module: a GPU host's cuda tests run in the release build.
    PORTA_TEST_EXPECT="$(tr ',' '\n' <<<"$PORTA_TEST_EXPECT" | grep -vx -e cuda -e hip | paste -sd, -)" \
      step "asan: ctest (without label bigmem)" run_ctest asan -j "$jobs" -LE bigmem
  fi
fi

if [[ $run_fuzz -eq 1 ]]; then
  if step "fuzz: configure" cmake --preset fuzz && step "fuzz: build" cmake --build --preset fuzz -j "$jobs"; then
    step "fuzz: ${PORTA_FUZZ_SECONDS:-20}s per target" scripts/fuzz.sh --no-build "${PORTA_FUZZ_SECONDS:-20}"
  fi
fi

if [[ $run_tsan -eq 1 ]]; then
  step "tsan: build + thread tests" scripts/tsan.sh
fi

finish
