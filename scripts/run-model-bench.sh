#!/usr/bin/env bash
# The main job's model part: porta-run --bench on the synthetic Llama-3-8B (4 of 32 layers
# timed and scaled to the full depth, no file) with bf16, int8 and int4 weights, on each
# device of PORTA_MODEL_DEVICES (default: PORTA_DEVICE, else auto). A device whose
# allocations cannot hold the 8B's 1 GiB tables (lavapipe: 128 MiB) runs the next preset
# ("small": Llama-shaped, hidden 1024, 8 layers); the table names the preset of every row.
# Writes OUT_DIR/porta-run-<device>-<weights>.json (+ .log) and prints the JSON paths, one
# a line, on stdout (progress on stderr). scripts/run-benchmarks.sh runs it and
# tools/bench_report.py --model turns the files into the report's Model table and plots.
#
#   scripts/run-model-bench.sh BUILD_DIR OUT_DIR [--quick]
#
# Environment: PORTA_MODEL_DEVICES ("cpu vulkan:0 opencl:0"), PORTA_MODEL_PRESETS (presets
# tried in order, default "llama3-8b small"; "small" alone for a short run),
# PORTA_MODEL_PROMPT / PORTA_MODEL_DECODE (prefill tokens, default 512, 256 with --quick;
# decode steps, default 16).
set -euo pipefail

build="${1:?build dir}"
out="${2:?output dir}"
quick="${3:-}"
run_tool=""
for candidate in "$build/tools/porta-run/porta-run" "$build/bin/porta-run"; do
  if [[ -x "$candidate" ]]; then run_tool="$candidate"; break; fi
done
if [[ -z "$run_tool" ]]; then
  echo "run-model-bench: no porta-run under $build (build it: cmake --build $build --target porta-run)" >&2
  exit 1
fi
mkdir -p "$out"
prompt="${PORTA_MODEL_PROMPT:-512}"
[[ "$quick" == "--quick" && -z "${PORTA_MODEL_PROMPT:-}" ]] && prompt=256
decode="${PORTA_MODEL_DECODE:-16}"
read -r -a devices <<< "${PORTA_MODEL_DEVICES:-${PORTA_DEVICE:-auto}}"
read -r -a presets <<< "${PORTA_MODEL_PRESETS:-llama3-8b small}"

for dev in "${devices[@]}"; do
  tag="${dev//[^A-Za-z0-9]/_}"
  for fmt in bf16 int8 int4; do
    f="$out/porta-run-$tag-$fmt.json"
    ok=0
    for preset in "${presets[@]}"; do
      echo "run-model-bench: $dev $preset --weights $fmt (prefill $prompt, decode $decode)" >&2
      if "$run_tool" --device "$dev" --bench --synthetic "$preset" --weights "$fmt" --bench-prompt "$prompt" \
           --bench-decode "$decode" --json -q > "$f.tmp" 2> "${f%.json}.log"; then
        mv "$f.tmp" "$f"
        echo "$f"
        ok=1
        break
      fi
      echo "run-model-bench: $dev $preset $fmt: $(tail -1 "${f%.json}.log")" >&2
      rm -f "$f.tmp"
    done
    [[ $ok -eq 1 ]] || echo "run-model-bench: $dev --weights $fmt: no preset ran (see ${f%.json}.log)" >&2
  done
done
