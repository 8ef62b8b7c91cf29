#!/usr/bin/env bash
# Builds porta-run's libFuzzer targets (GGUF, safetensors) with clang and runs each for
# SECONDS (default 20) from a seed corpus of valid files written by porta_model_tests'
# fixtures (tiny_model.cpp), under ASan + UBSan. Exit status non-zero on any crash.
# Usage: tests/fuzz/run-porta-run-fuzz.sh BUILD_DIR [SECONDS] [WORK_DIR]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:?build dir}"
secs="${2:-20}"
work="${3:-$build/tests/fuzz/porta-run}"
clang="$(command -v clang++-14 || command -v clang++ || true)"
[[ -n "$clang" ]] || { echo "run-porta-run-fuzz: clang++ not found (Debian clang-14)"; exit 77; }
mkdir -p "$work"
src="$repo/tools/porta-run"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$repo/include" -I"$src")
# convert_host (f16/bf16 -> f32) is compiled in from core's dtype.cpp so the targets need no libporta.
common=("$src/gguf.cpp" "$src/safetensors.cpp" "$src/tensor_data.cpp" "$src/dequant.cpp" "$src/mapped_file.cpp"
        "$repo/src/core/dtype.cpp" -I"$repo/src")
for t in gguf safetensors; do
  if [[ ! -x "$work/fuzz_$t" || "$repo/tests/fuzz/fuzz_$t.cpp" -nt "$work/fuzz_$t" || "$src/$t.cpp" -nt "$work/fuzz_$t" ]]; then
    "$clang" "${flags[@]}" "$repo/tests/fuzz/fuzz_$t.cpp" "${common[@]}" -o "$work/fuzz_$t"
  fi
done
# Seeds: the fixture files the model tests write (valid GGUF / safetensors), at most 4 of
# each. The list is read whole first: `find | head` under pipefail fails the script with
# SIGPIPE as soon as more than 4 files exist.
for ext in gguf safetensors; do
  mkdir -p "$work/corpus_$ext"
  mapfile -t seeds < <(find "${TMPDIR:-/tmp}" -maxdepth 2 -path '*porta_run_*' -name "*.$ext" -size -4M 2>/dev/null || true)
  for f in "${seeds[@]:0:4}"; do cp "$f" "$work/corpus_$ext/" || true; done
done
for t in gguf safetensors; do
  echo "run-porta-run-fuzz: fuzz_$t for ${secs}s"
  rc=0
  (cd "$work" && ./fuzz_$t -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    "corpus_$t" > "fuzz_$t.log" 2>&1) || rc=$?
  tail -8 "$work/fuzz_$t.log"
  [[ $rc -eq 0 ]] || { echo "run-porta-run-fuzz: fuzz_$t failed (status $rc); crash input in $work"; exit 1; }
done
