#!/usr/bin/env bash
# porta's main job (README, "Set-up"): installs the Debian packages, builds the
# release preset and runs the benchmarks on the device PORTA_DEVICE selects
# (default auto), writing report/porta-bench.json and report/summary.md.
#
#   scripts/main-job.sh [--quick] [OUT_DIR] [-- porta-bench args...]
#
# Arguments go to scripts/run-benchmarks.sh after the build directory
# (build/release): --quick for the reduced set, an output directory, and
# Google Benchmark flags after `--`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) break ;;
  esac
done

jobs="${PORTA_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$repo"
  export CCACHE_NOHASHDIR=1
fi

t0=$(date +%s)
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target porta-bench porta-info
echo "main-job: build done in $(( $(date +%s) - t0 ))s"
[[ -x build/release/tools/porta-info ]] && build/release/tools/porta-info || true   # the device list, for the log
exec scripts/run-benchmarks.sh build/release "$@"
