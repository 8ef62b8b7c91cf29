#!/usr/bin/env bash
# The main job (README, "Set up"): installs the Debian packages, builds the release
# preset and runs the benchmarks on the device PORTA_DEVICE selects (default auto:
# the best GPU a backend finds, else the CPU), writing report/porta-bench.json and
# report/summary.md.
#
#   scripts/main-job.sh [--quick] [OUT_DIR] [-- porta-bench args...]
#   scripts/main-job.sh --compare A.json B.json   ratios between two runs (devices or commits)
#
# The arguments go to scripts/run-benchmarks.sh after the build directory
# (build/release): --quick for the reduced set, an output directory, and Google
# Benchmark flags after `--`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
for arg in "$@"; do
  case "$arg" in
    --compare) exec scripts/run-benchmarks.sh "$@" ;;  # two existing runs: nothing to build
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) break ;;
  esac
done

jobs="${PORTA_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$repo"
  export CCACHE_NOHASHDIR=1
fi
build=build/release

t0=$SECONDS
scripts/install-deps.sh
cmake --preset release
# Everything, not just porta-bench: the GPU backend modules are what `auto` picks from.
cmake --build --preset release -j "$jobs"
echo "main-job: build done in $((SECONDS - t0))s"

# The device list and the selection, for the log. A bad PORTA_DEVICE stops here.
if ! "$build/tools/porta-info"; then
  echo "main-job: no device selected; fix PORTA_DEVICE (see porta-info above)" >&2
  exit 2
fi
echo
exec scripts/run-benchmarks.sh "$build" "$@"
