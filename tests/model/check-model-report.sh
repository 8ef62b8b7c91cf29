#!/usr/bin/env bash
# The main job's model report path end to end on the cpu: porta-run --bench --json on the
# tiny synthetic preset for two weight formats, then tools/bench_report.py --model writes
# the Model table and both plots. Fails when a row, a column or a plot is missing.
# Usage: tests/model/check-model-report.sh PORTA_RUN WORK_DIR
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
run="${1:?porta-run}"
work="${2:?work dir}"
rm -rf "$work" && mkdir -p "$work"
for fmt in bf16 int4; do
  PORTA_DEVICE=cpu "$run" --bench --synthetic tiny --weights "$fmt" --bench-prompt 32 --bench-decode 2 --json -q \
    > "$work/porta-run-cpu-$fmt.json"
done
python3 "$repo/tools/bench_report.py" --model "$work"/porta-run-cpu-*.json -o "$work/model.md" --plots "$work"
cat "$work/model.md"
grep -q '^| device | model | weights | prefill tok/s | of GEMM bound | decode tok/s | bound tok/s | of bound |' "$work/model.md"
[[ $(grep -c '^| cpu:0' "$work/model.md") -eq 2 ]]
grep -q '^| cpu:0 .* | bf16 (as stored) |' "$work/model.md"
grep -q '^| cpu:0 .* | int4 g32' "$work/model.md"
for plot in model_decode model_prefill; do
  grep -q "($plot.svg)" "$work/model.md"
  python3 -c "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert len(d.getElementsByTagName('rect')) >= 4" \
    "$work/$plot.svg"
done
echo "check-model-report: ok"
