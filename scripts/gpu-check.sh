#!/usr/bin/env bash
# The CUDA backend's whole GPU verification as one command, for a lent GPU host whose
# device time is scarce (minutes): build, correctness on every forced path, negative
# tests, then the speed targets against cuBLAS, the device copy and PyTorch SDPA.
#
#   scripts/gpu-check.sh [OUT_DIR]        (default: $OUT, else ./gpu-check-out)
#
# On a host without Debian's dev packages, carry .gpu-deps/ (../shared/gpu/README.md): it
# is sourced when present. Steps, each under its own time limit so one hang cannot eat the
# lease, skipped once GPU_CHECK_BUDGET_S (default 500) seconds are spent:
#   1. configure + build (CUDA only; SASS for the GPU's own architecture)
#   2. porta-info, nvidia-smi
#   3. conformance suite on cuda: PORTA_CUDA_GEMM_PATH = auto simt gemv sm80 sm90 (whole suite),
#      PORTA_CUDA_ATTN_PATH = simt sm80 sm90 (attention tests), the paged (serving) tests under
#      PORTA_DETERMINISTIC
#   4. the CUDA GPU tests (attention kernels, row paths, grid limits, negative), grid limits
#      also with the sm80 GEMM path; the host-logic unit tests
#   5. porta-bench cuda_targets: auto (every row), sm80 (GEMM + prefill rows); gemm_quant (quick set);
#      paged (serving decode and mixed batch)
#   6. benchmarks/sdpa_reference.py, then tools/cuda_targets_report.py -> targets.md
#   7. Vulkan and OpenCL on NVIDIA's own drivers (the stand-ins for a domestic GPU's stacks;
#      GPU rows of their tuning tables), unless GPU_CHECK_VKCL=0: a second build without CUDA,
#      porta-info, both conformance suites, porta-bench GEMM / attention / copy on each and the
#      same attention rows on the CUDA backend, then tools/vkcl_gpu_report.py -> vkcl.md
#   8. compute-sanitizer memcheck over the GEMM and attention conformance tests, if it exists
#      and time is left
# OUT_DIR gets at most 8 files (what a device call returns): summary.md (steps, targets),
# bench-auto.json, bench-sm80.json, sdpa.json, bench-vulkan.json, bench-opencl.json,
# bench-cuda-attn.json, logs.tar.gz (every log). Exit status: 0 when every step that ran passed.
#
# Env: GPU_CHECK_BUILD (build dir, /tmp/porta-gpu), GPU_CHECK_ARCH (CMAKE_CUDA_ARCHITECTURES;
# default from nvidia-smi: 90a-real on 9.0, else <cc>-real), GPU_CHECK_BUDGET_S,
# GPU_CHECK_JOBS (build jobs, nproc), GPU_CHECK_NO_DEVICE_OK=1 (run every step even when
# porta finds no CUDA device: checks this script's plumbing on a driverless host).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="${1:-${OUT:-$repo/gpu-check-out}}"
mkdir -p "$out"
logs="$(mktemp -d /tmp/gpu-check-logs.XXXXXX)"
build="${GPU_CHECK_BUILD:-/tmp/porta-gpu}"
budget="${GPU_CHECK_BUDGET_S:-500}"
jobs="${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 4)}"
start=$SECONDS
steps=()
failed=0

# step NAME LIMIT_S COMMAND...: runs with a time limit, logs to $logs/NAME.log, records.
step() {
  local name="$1" limit="$2"
  shift 2
  local left=$((budget - (SECONDS - start)))
  if ((left < 10)); then
    steps+=("| $name | skipped | budget of ${budget} s spent |")
    return 1
  fi
  ((limit > left)) && limit=$left
  local t0=$SECONDS
  echo "==== gpu-check: $name (limit ${limit} s): $*"
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  local secs=$((SECONDS - t0))
  tail -n 3 "$logs/$name.log" | sed 's/^/    /'
  if ((rc == 0)) && grep -q '^\[  PASSED  \] 0 tests' "$logs/$name.log" && [[ "${GPU_CHECK_NO_DEVICE_OK:-0}" != 1 ]]; then
    steps+=("| $name | **FAIL** | ${secs} s, no test instance ran (no CUDA device?) |")
    failed=1
    return 1
  fi
  if ((rc == 0)); then
    steps+=("| $name | ok | ${secs} s |")
  else
    local why="exit $rc"
    ((rc == 124 || rc == 137)) && why="timed out after ${limit} s"
    steps+=("| $name | **FAIL** | ${secs} s, $why; last line: $(tail -n 1 "$logs/$name.log" | tr '|' '/' | cut -c1-160) |")
    failed=1
  fi
  return $rc
}

finish() {
  {
    echo "# porta GPU check"
    echo
    echo "- commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- GPU: $(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
    echo "- command: scripts/gpu-check.sh (build $build, CMAKE_CUDA_ARCHITECTURES=${arch:-?}, total $((SECONDS - start)) s)"
    echo
    echo "| step | result | detail |"
    echo "|---|---|---|"
    printf '%s\n' "${steps[@]}"
    echo
    [[ -f "$logs/targets.md" ]] && cat "$logs/targets.md"
    [[ -f "$logs/vkcl.md" ]] && cat "$logs/vkcl.md"
  } >"$out/summary.md"
  for f in bench-auto.json bench-sm80.json sdpa.json bench-vulkan.json bench-opencl.json bench-cuda-attn.json; do
    [[ -f "$logs/$f" ]] && cp "$logs/$f" "$out/"
  done
  tar -C "$logs" -czf "$out/logs.tar.gz" .
  cat "$out/summary.md"
  exit $failed
}

# ---- 1. build
if [[ -f .gpu-deps/unpack.sh ]]; then
  # shellcheck disable=SC1091
  source .gpu-deps/unpack.sh
fi
cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
if [[ -n "${GPU_CHECK_ARCH:-}" ]]; then
  arch="$GPU_CHECK_ARCH"
elif [[ "$cc" == "90" ]]; then
  arch="90a-real"
elif [[ -n "$cc" ]]; then
  arch="${cc}-real"
else
  arch="80-real;90a-real"  # no GPU seen: build what an A800/H20 fleet needs
fi
step configure 120 cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPORTA_WITH_CUDA=ON -DPORTA_WITH_HIP=OFF -DPORTA_WITH_VULKAN=OFF -DPORTA_WITH_OPENCL=OFF \
  -DPORTA_BUILD_EXAMPLES=OFF -DCMAKE_CUDA_ARCHITECTURES="$arch" || finish
targets=(porta porta_backend_cuda porta-info porta-bench porta_conformance porta_unit_cuda_host
  porta_unit_cuda_module porta_cuda_attention_kernels porta_cuda_rows_ops porta_cuda_grid_limits
  porta_cuda_negative)
step build 420 cmake --build "$build" -j "$jobs" --target "${targets[@]}" || finish

# ---- 2. what porta sees; without a CUDA device every later step would pass vacuously
nvidia-smi >"$logs/nvidia-smi.txt" 2>&1
if ! step porta-info 60 env PORTA_DEVICE=cuda "$build/tools/porta-info"; then
  if [[ "${GPU_CHECK_NO_DEVICE_OK:-0}" != 1 ]]; then
    steps+=("| (rest) | skipped | porta finds no CUDA device (porta-info.log says why) |")
    finish
  fi
fi

# ---- 3. conformance on every forced path
export PORTA_TEST_DEVICES=cuda
conf="$build/tests/porta_conformance"
for p in auto simt gemv sm80 sm90; do
  step "conformance-gemm-$p" 180 env PORTA_CUDA_GEMM_PATH=$p "$conf" --gtest_brief=1
done
for p in simt sm80 sm90; do
  step "conformance-attn-$p" 120 env PORTA_CUDA_ATTN_PATH=$p "$conf" --gtest_brief=1 --gtest_filter='*Attention*'
done
# Serving ops (issue 15; the auto run above has them too): on their own so a failure names them,
# the split-KV kernel alone (simt: also prefill) and under PORTA_DETERMINISTIC's fixed split counts.
step conformance-paged-simt 120 env PORTA_CUDA_ATTN_PATH=simt "$conf" --gtest_brief=1 --gtest_filter='*Paged*'
step conformance-paged-det 120 env PORTA_DETERMINISTIC=1 "$conf" --gtest_brief=1 \
  --gtest_filter='*Paged*:*ServingCompanions*'

# ---- 4. CUDA GPU tests
t="$build/tests/backends/cuda"
step unit-cuda-host 60 "$t/porta_unit_cuda_host" --gtest_brief=1
step unit-cuda-module 60 "$t/porta_unit_cuda_module" --gtest_brief=1
step cuda-attention-kernels 180 "$t/porta_cuda_attention_kernels" --gtest_brief=1
step cuda-rows-ops 120 "$t/porta_cuda_rows_ops" --gtest_brief=1
step cuda-grid-limits 180 "$t/porta_cuda_grid_limits" --gtest_brief=1
step cuda-grid-limits-sm80 180 env PORTA_CUDA_GEMM_PATH=sm80 "$t/porta_cuda_grid_limits" --gtest_brief=1 \
  --gtest_filter='*Gemm*'
step cuda-negative 180 "$t/porta_cuda_negative" --gtest_brief=1
unset PORTA_TEST_DEVICES

# ---- 5. speed: porta-bench (Debian's Google Benchmark 1.7 takes min_time as a plain number)
bench="$build/benchmarks/porta-bench"
step bench-auto 240 env PORTA_DEVICE=cuda "$bench" --benchmark_filter='cuda_targets' --benchmark_min_time=0.3 \
  --benchmark_out="$logs/bench-auto.json" --benchmark_out_format=json
step bench-sm80 150 env PORTA_DEVICE=cuda PORTA_CUDA_GEMM_PATH=sm80 PORTA_CUDA_ATTN_PATH=sm80 "$bench" \
  --benchmark_filter='cuda_targets/(gemm/bf16/M=(8192|4096)|attention/prefill)' --benchmark_min_time=0.3 \
  --benchmark_out="$logs/bench-sm80.json" --benchmark_out_format=json
# Quantized weights (issue 14): the decode GEMV and prefill rows against the bf16-weight GEMM.
step bench-quant 240 env PORTA_DEVICE=cuda "$bench" --quick --benchmark_filter='gemm_quant/' \
  --benchmark_min_time=0.3 --benchmark_out="$logs/bench-quant.json" --benchmark_out_format=json
# Serving (issue 15): paged decode (f16, int8, fp8 caches) against the dense decode and the device
# copy of the same run, and the mixed prefill + decode batch (suite_paged.cpp).
step bench-paged 180 env PORTA_DEVICE=cuda "$bench" --benchmark_filter='paged/' --benchmark_min_time=0.3 \
  --benchmark_out="$logs/bench-paged.json" --benchmark_out_format=json

# ---- 6. PyTorch SDPA on the same shapes, and the target table
step sdpa 120 env PYTHONUNBUFFERED=1 python3 "$repo/benchmarks/sdpa_reference.py" --out "$logs/sdpa.json"
paths=()
for p in auto sm80; do [[ -f "$logs/bench-$p.json" ]] && paths+=(--path "$p=$logs/bench-$p.json"); done
if ((${#paths[@]})); then
  step targets 30 python3 "$repo/tools/cuda_targets_report.py" "${paths[@]}" --sdpa "$logs/sdpa.json" \
    -o "$logs/targets.md"
fi

# ---- 7. Vulkan and OpenCL on NVIDIA's drivers (their GPU tuning rows), compared with CUDA
if [[ "${GPU_CHECK_VKCL:-1}" == 1 ]]; then
  vkcl="$build-vkcl"
  attn='gemm/f32/M=1024/N=1024/K=1024/|attention/prefill/f16/B=1/.*/S=(1024|4096)/causal|attention/decode/f16/.*KV=4096'
  if step vkcl-configure 120 cmake -S "$repo" -B "$vkcl" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPORTA_WITH_CUDA=OFF \
    -DPORTA_WITH_HIP=OFF -DPORTA_WITH_VULKAN=ON -DPORTA_WITH_OPENCL=ON -DPORTA_BUILD_EXAMPLES=OFF &&
    step vkcl-build 300 cmake --build "$vkcl" -j "$jobs" --target porta porta_backend_vulkan porta_backend_opencl \
      porta-info porta-bench porta_conformance; then
    # The validation layer when installed (any message fails the Vulkan suite), as in CTest.
    vval=0
    ls /usr/share/vulkan/explicit_layer.d/*alidation* >/dev/null 2>&1 && vval=1
    step vkcl-info 60 bash -c "PORTA_DEVICE=vulkan '$vkcl/tools/porta-info'; PORTA_DEVICE=opencl '$vkcl/tools/porta-info'"
    step conformance-vulkan 300 env PORTA_TEST_DEVICES=vulkan PORTA_VULKAN_VALIDATION=$vval \
      "$vkcl/tests/porta_conformance" --gtest_brief=1
    step conformance-opencl 300 env PORTA_TEST_DEVICES=opencl "$vkcl/tests/porta_conformance" --gtest_brief=1
    for b in vulkan opencl; do
      step "bench-$b" 180 env PORTA_DEVICE=$b "$vkcl/benchmarks/porta-bench" --benchmark_filter="$attn|elementwise/copy/f32" \
        --benchmark_min_time=0.2 --benchmark_out="$logs/bench-$b.json" --benchmark_out_format=json
    done
    step bench-cuda-attn 120 env PORTA_DEVICE=cuda "$bench" --benchmark_filter="$attn" --benchmark_min_time=0.2 \
      --benchmark_out="$logs/bench-cuda-attn.json" --benchmark_out_format=json
    step vkcl-report 30 python3 "$repo/tools/vkcl_gpu_report.py" --cuda "$logs/bench-cuda-attn.json" \
      --sdpa "$logs/sdpa.json" "$logs/bench-vulkan.json" "$logs/bench-opencl.json" -o "$logs/vkcl.md"
  fi
fi

# ---- 8. memory checker over the tensor-core kernels (slow: last, with what time is left)
if command -v compute-sanitizer >/dev/null 2>&1; then
  step memcheck 240 env PORTA_TEST_DEVICES=cuda compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$conf" --gtest_brief=1 --gtest_filter='*Gemm*:*Attention*'
fi
finish
