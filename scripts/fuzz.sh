#!/usr/bin/env bash
# Runs the libFuzzer targets of the fuzz preset (tests/fuzz: PORTA_DEVICE parser, view
# arithmetic, op validation + execution on the cpu backend) for SECONDS each (default 20),
# one after another. Each starts from its corpus in build/fuzz/corpus/<target> (kept between
# runs) plus the committed seeds in tests/fuzz/seeds/<target>. Prints per target the inputs
# run and the outcome; exits non-zero on any crash, hang, leak or sanitizer report, leaving
# the reproducer in build/fuzz/crashes/<target>/ (replay: build/fuzz/tests/fuzz/<target> FILE).
#
#   scripts/fuzz.sh [--no-build] [SECONDS] [TARGET...]
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

build=1
if [[ "${1:-}" == "--no-build" ]]; then
  build=0
  shift
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi
secs="${1:-20}"
shift || true
jobs="${PORTA_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"

if [[ $build -eq 1 ]]; then
  cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j "$jobs" || exit 1
fi
bindir=build/fuzz/tests/fuzz
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in "$bindir"/fuzz_*; do [[ -x "$f" && -f "$f" ]] && targets+=("$(basename "$f")"); done
fi
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz.sh: no fuzz targets in $bindir" >&2; exit 1; }

failed=0
results=()
for t in "${targets[@]}"; do
  corpus="build/fuzz/corpus/$t" crashes="build/fuzz/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  args=(-max_total_time="$secs" -timeout=60 -print_final_stats=1 -artifact_prefix="$crashes/")
  [[ -f "tests/fuzz/$t.dict" ]] && args+=(-dict="tests/fuzz/$t.dict")
  log="build/fuzz/$t.log"
  echo "==== fuzz.sh: $t for ${secs}s"
  # One cpu worker thread: runs are reproducible and the 2 cores go to the fuzzer.
  PORTA_CPU_THREADS=1 "$bindir/$t" "${args[@]}" "$corpus" "tests/fuzz/seeds/$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [[ $rc -eq 0 ]]; then
    results+=("$(printf 'ok    %-18s %10s runs in %ss, %s, corpus %s files: no crash or sanitizer report' \
      "$t" "${runs:-?}" "$secs" "${cov:-cov: ?}" "$(ls "$corpus" | wc -l)")")
  else
    failed=1
    results+=("$(printf 'FAIL  %-18s exit %d after %s runs; reproducer in %s (log %s)' "$t" "$rc" "${runs:-?}" "$crashes" "$log")")
    grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|fuzz_[a-z]*: ' "$log" | sed 's/^/      /'
    tail -n 30 "$log"
  fi
done
echo
echo "==== fuzz.sh summary"
printf '  %s\n' "${results[@]}"
exit $failed
