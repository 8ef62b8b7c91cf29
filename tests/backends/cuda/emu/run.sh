#!/usr/bin/env bash
# Runs porta's CUDA kernels on the host emulator (emu.h), without a GPU, against float64
# references and the cpu backend's rules:
#   paged      paged_attention.cu (split-KV + combine) and paged_prefill_sm80.cu (mma.sync,
#              emulated), every head dim, cache kind, window, clamped device values
#   quant      quant.cu: dequantize / embedding / gemm blocks (vector and element paths,
#              views), the GEMV (act-order, epilogues), quantize (bit-exact)
#   cache      paged_cache.cu: kv_cache_write (every kind, bad slots), copy_blocks
#   attention  attention_decode.cu (cp.async rings), attention_sm80_mma.cu, attention_simt.cu
#              and the combine pass, as attention_plan.cpp cuts them
#   gemm       gemv.cu, gemm_sm80_mma.cu, gemm_simt.cu and gemm_reduce through their launchers
#   rows       norm.cu, softmax.cu (dense and strided), argmax.cu (chunked), embedding.cu, as
#              rows_plan.cpp plans them
#   ew         elementwise.cu, cast_copy.cu, fill.cu, rope.cu (row vectors, dense and strided)
# Usage: tests/backends/cuda/emu/run.sh [suite ...]   (default: all). Needs g++ with C++20 and
# the CUDA headers (CUDA_HOME, default /usr/local/cuda; cudart for linking only). SAN=0 drops
# ASan/UBSan (default on); EMU_BUILD is the scratch directory (default /tmp/porta-cuda-emu).
# One std::thread per CUDA thread: a full run takes about 8 minutes of mostly system time on 2
# cores and keeps hundreds of threads runnable (load average 30-50): not while others measure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
cuda="${CUDA_HOME:-/usr/local/cuda}"
out="${EMU_BUILD:-/tmp/porta-cuda-emu}"
san=""
[[ "${SAN:-1}" == 1 ]] && san="-fsanitize=address,undefined -fno-sanitize-recover=all"
suites=("$@")
((${#suites[@]})) || suites=(paged quant cache attention gemm rows ew)

# The kernels as g++ takes them: <<<...>>> launches dropped (emu::launch launches), extern
# __shared__ arrays on the emulator's dynamic shared memory, the cudaFuncSetAttribute call a
# no-op, vector-type pointer casts checked for alignment, mma_sm80.cuh emulated.
mkdir -p "$out"
rm -rf "$out/k"
mkdir "$out/k"
cp "$repo"/kernels/cuda/*.cu "$repo"/kernels/cuda/*.cuh "$repo"/kernels/cuda/*.h "$out/k/"
cp "$here/mma_sm80_emu.cuh" "$out/k/mma_sm80.cuh"
sed -i -E 's/reinterpret_cast<((const )?(uint4|uint2|float4|float2|uint32_t|int32_t|uint16_t|int64_t|float)\*)>/emu_cast<\1>/g' \
  "$out"/k/*.cu "$out"/k/*.cuh
perl -0pi -e 's/([A-Za-z_][\w:]*(?:<[^<>;]*>)?)\s*<<<(.*?)>>>\((.*?)\);/::emu::run(::emu::Cfg(\2), \1, \3);/gs' "$out"/k/*.cu
sed -i -E 's/pcFuncSetMaxDynamicSharedMemory\(/emu_set_smem(/g; s/pcGetLastError\(\)/cudaSuccess/g' "$out"/k/*.cu
# gemv.cu's streaming load (PTX) as a plain 16-byte load
perl -0pi -e 's/asm volatile\("ld\.global\.nc\.L1::no_allocate.*?"l"\(p\)\);/v = *emu_cast<const uint4*>(p);/gs' "$out"/k/gemv.cu
sed -i -E 's/extern __shared__ (__align__\([0-9]+\) )?([A-Za-z0-9_ ]+) ([A-Za-z0-9_]+)\[\];/\2* \3 = reinterpret_cast<\2*>(::emu::cta->dyn);/' \
  "$out"/k/*.cu

flags=(-std=c++20 -O1 -g -pthread -w "-I$cuda/include" "-I$repo" "-I$repo/src" "-I$repo/include" "-I$out" $san)
cc() { nice -n 10 g++ "${flags[@]}" "$@"; }
# Per suite: launcher shims (launch_*.cpp) or kernel files compiled as they are (k:*.cu, their
# real launchers), and host sources.
declare -A launchers=([paged]="launch_paged launch_prefill" [quant]="launch_quant" [cache]="launch_cache"
  [attention]="launch_attn_decode launch_attn_sm80 launch_attn_simt"
  [gemm]="k:gemv.cu k:gemm_sm80_mma.cu k:gemm_simt.cu" [rows]="k:norm.cu k:softmax.cu k:argmax.cu k:embedding.cu"
  [ew]="k:elementwise.cu k:cast_copy.cu k:fill.cu k:rope.cu")
declare -A hosts=([paged]="backends/cuda/paged_plan.cpp" [quant]="backends/cuda/quant_plan.cpp" [cache]=""
  [attention]="backends/cuda/attention_plan.cpp" [gemm]="" [rows]="backends/cuda/rows_plan.cpp"
  [ew]="backends/cuda/rows_plan.cpp")
status=0
for s in "${suites[@]}"; do
  [[ -n "${launchers[$s]+x}" ]] || { echo "unknown suite $s (paged, quant, cache, attention, gemm, rows, ew)"; exit 2; }
  objs=()
  for l in ${launchers[$s]}; do
    if [[ "$l" == k:* ]]; then
      f="${l#k:}"
      cc -x c++ -include "$here/emu.h" -c "$out/k/$f" -o "$out/${f%.cu}.o"
      objs+=("$out/${f%.cu}.o")
    else
      cc -include "$here/emu.h" -c "$here/$l.cpp" -o "$out/$l.o"
      objs+=("$out/$l.o")
    fi
  done
  for h in ${hosts[$s]}; do
    cc -c "$repo/src/$h" -o "$out/$(basename "$h" .cpp).o"
    objs+=("$out/$(basename "$h" .cpp).o")
  done
  cc -c "$here/test_$s.cpp" -o "$out/test_$s.o"
  cc "$out/test_$s.o" "${objs[@]}" -o "$out/emu_$s" "-L$cuda/lib64" -lcudart
  echo "==== $s (every case that is not ok, then the verdict)"
  rc=0
  nice -n 10 "$out/emu_$s" >"$out/$s.log" 2>&1 || rc=$?
  grep -v ': ok' "$out/$s.log" || true
  ((rc == 0)) || status=1
done
exit $status
