#!/usr/bin/env bash
# The main job's benchmark script end to end on the cpu (scripts/run-benchmarks.sh: porta-bench,
# the model part through scripts/run-model-bench.sh, tools/bench_report.py), reduced to one
# porta-bench row and the tiny model preset. A botched edit of the script once left it calling
# `--compare "$2" "$3"` after the run and failing under set -u; nothing else ran the script.
# Usage: tests/check-main-job-report.sh BUILD_DIR WORK_DIR
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:?build dir}"
work="${2:?work dir}"
rm -rf "$work"
PORTA_DEVICE=cpu PORTA_MODEL_PRESETS=tiny PORTA_MODEL_PROMPT=32 PORTA_MODEL_DECODE=2 \
  "$repo/scripts/run-benchmarks.sh" --quick "$build" "$work" -- --benchmark_filter='^elementwise/add' > "$work.log" 2>&1 ||
  { tail -40 "$work.log"; echo "check-main-job-report: run-benchmarks.sh failed"; exit 1; }
summary="$work/summary.md"
grep -q '^## Bandwidth-bound ops' "$summary"
grep -q '^| add | f32 |' "$summary"
grep -q '^## Model' "$summary"
[[ $(grep -c '^| cpu:0 .* | synthetic tiny |' "$summary") -eq 3 ]]
for f in porta-bench.json model_decode.svg model_prefill.svg; do [[ -s "$work/$f" ]]; done
echo "check-main-job-report: ok"
