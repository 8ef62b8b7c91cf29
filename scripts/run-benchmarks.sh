#!/usr/bin/env bash
# Runs porta-bench on the device chosen by PORTA_DEVICE (default auto) and
# writes report/porta-bench.json, report/summary.md and the SVG plots it links
# (GEMM % of peak, attention against length, roofline; model tok/s from porta-run),
# then prints the summary.
#
#   scripts/run-benchmarks.sh [--quick] [BUILD_DIR [OUT_DIR]] [-- porta-bench args...]
#   scripts/run-benchmarks.sh --compare A.json B.json   per-benchmark speed-ups of B over A
#
# BUILD_DIR defaults to build/, OUT_DIR to report/. --quick runs the reduced set
# (a few minutes on a 2-core CPU); without it the full tables run (much longer).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=()
positional=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --compare)
      [[ $# -eq 3 ]] || { echo "run-benchmarks: --compare takes two JSON files" >&2; exit 64; }
      exec python3 "$repo/tools/bench_report.py" --compare "$2" "$3" ;;
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) positional+=("$1") ;;
  esac
  shift
done
build="${positional[0]:-build}"
out="${positional[1]:-report}"

bench=""
for candidate in "$build/benchmarks/porta-bench" "$build/bin/porta-bench" "$build/porta-bench"; do
  if [[ -x "$candidate" ]]; then bench="$candidate"; break; fi
done
if [[ -z "$bench" ]]; then
  echo "run-benchmarks: no porta-bench under $build (build it: cmake --build $build --target porta-bench)" >&2
  exit 1
fi

mkdir -p "$out"
json="$out/porta-bench.json"
export PORTA_DEVICE="${PORTA_DEVICE:-auto}"
cmd=("$bench" "${quick[@]}" --benchmark_out="$json" --benchmark_out_format=json "${extra[@]}")
echo "PORTA_DEVICE=$PORTA_DEVICE ${cmd[*]}"
"${cmd[@]}"

# The model table and plots: porta-run --bench --synthetic per device and weight format
# (scripts/run-model-bench.sh; PORTA_MODEL_DEVICES adds devices, default the one above).
model_json=()
if mapfile -t model_json < <("$repo/scripts/run-model-bench.sh" "$build" "$out" "${quick[@]}"); then :; fi

python3 "$repo/tools/bench_report.py" "$json" -o "$out/summary.md" --plots "$out" ${model_json[@]:+--model "${model_json[@]}"} \
  --command "PORTA_DEVICE=$PORTA_DEVICE scripts/run-benchmarks.sh ${quick[*]} $build $out${extra:+ -- ${extra[*]}}"
echo
cat "$out/summary.md"
