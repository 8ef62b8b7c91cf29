#!/usr/bin/env bash
# ThreadSanitizer check (scripts/test.sh runs it): builds core + the cpu backend, the
# skeleton backend (asynchronous: a worker thread plays the device) and the thread tests
# (tests/threads) with -fsanitize=thread (the tsan preset, build/tsan) and runs them on both
# backends; any data race or lock-order report fails the run (TSAN_OPTIONS halt_on_error=1).
# tsan_self_check first proves TSan is watching: a planted race must be reported.
#
#   scripts/tsan.sh
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
jobs="${PORTA_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"

cmake --preset tsan >/dev/null || exit 1
cmake --build --preset tsan -j "$jobs" --target porta_threads porta_backend_skeleton || exit 1
ctest --preset tsan --output-on-failure
