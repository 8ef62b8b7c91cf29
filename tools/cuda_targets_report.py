#!/usr/bin/env python3
"""The CUDA backend's speed targets (issue: CUDA backend) from porta-bench runs of the
cuda_targets suite, one JSON per forced path, and the PyTorch SDPA reference JSON.

  cuda_targets_report.py --path auto=bench-auto.json --path sm80=bench-sm80.json \\
      [--sdpa sdpa.json] [-o targets.md]

Each --path is NAME=FILE, NAME being the PORTA_CUDA_GEMM_PATH / PORTA_CUDA_ATTN_PATH the run
forced (auto, sm80, sm90, simt). Ratios come from counters measured in the same run:
vs_baseline (cuBLAS time / porta time), vs_copy_bw (porta bytes/s over the device copy
measured interleaved), and porta prefill TFLOP/s over SDPA's (separate process, same GPU).
Standard library only.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402  pylint: disable=wrong-import-position

GEMM_BIG = [
    ("cuda_targets/gemm/bf16/M=8192/N=8192/K=8192", "square 8192³, B [K, N]"),
    ("cuda_targets/gemm/bf16/M=8192/N=8192/K=8192/BT", "square 8192³, B [N, K]"),
    ("cuda_targets/gemm/bf16/M=4096/N=8192/K=8192/BT", "70B q/o proj"),
    ("cuda_targets/gemm/bf16/M=4096/N=1024/K=8192/BT", "70B k/v proj"),
    ("cuda_targets/gemm/bf16/M=4096/N=28672/K=8192/BT", "70B gate/up proj"),
    ("cuda_targets/gemm/bf16/M=4096/N=8192/K=28672/BT", "70B down proj"),
    ("cuda_targets/gemm/bf16/M=4096/N=10240/K=8192/BT", "70B fused qkv"),
    ("cuda_targets/gemm/bf16/M=4096/N=57344/K=8192/BT", "70B fused gate+up"),
]
GEMV = [
    ("cuda_targets/gemm/bf16/M=1/N=8192/K=8192/BT", "M=1, [N, K] weights"),
    ("cuda_targets/gemm/bf16/M=4/N=8192/K=8192/BT", "M=4"),
    ("cuda_targets/gemm/bf16/M=16/N=8192/K=8192/BT", "M=16"),
    ("cuda_targets/gemm/bf16/M=1/N=8192/K=8192", "M=1, [K, N] weights"),
]
PREFILL = "cuda_targets/attention/prefill/bf16/B=1/H=32/S=4096/D=128/causal"
DECODE = "cuda_targets/attention/decode/bf16/B=16/Hq=32/Hkv=8/KV=8192/D=128"
SDPA_PREFILL = "attention/prefill/bf16/B=1/H=32/S=4096/D=128/causal"

# (path run, what, threshold) per target; the auto run stands for sm90 on an sm_90 part.
GEMM_THRESHOLDS = {"auto": 0.9, "sm90": 0.9, "sm80": 0.6}
PREFILL_THRESHOLDS = {"auto": 1.2, "sm90": 1.2, "sm80": 0.8}


def verdict(ratio, threshold):
    if ratio is None or threshold is None:
        return "n/a"
    return "**pass**" if ratio >= threshold else "**FAIL**"


def ok(results, name):
    r = results.get(name)
    return r if r and not r.get("error_occurred") else None


def missing(results, name):
    r = results.get(name)
    if r and r.get("error_occurred"):
        return "failed: " + str(r.get("error_message", "?")).replace("|", "/")[:160]
    return "not run"


def rows_for(path, results, sdpa_tflops):
    f3 = bench_report.f3
    rows = []
    for name, what in GEMM_BIG:
        r = ok(results, name)
        ratio = r.get("vs_baseline") if r else None
        detail = (f"{f3(r.get('TFLOPS'))} TFLOP/s, {f3(bench_report.ms(r))} vs cuBLAS {f3(r.get('baseline_ms'))} ms"
                  if r else missing(results, name))
        rows.append([path, f"GEMM bf16 {what} vs cuBLAS", ratio, GEMM_THRESHOLDS.get(path), detail])
    if path == "auto":
        for name, what in GEMV:
            r = ok(results, name)
            ratio = r.get("vs_copy_bw") if r else None
            detail = f"{f3(r.get('GBps'))} vs copy {f3(r.get('copy_GBps'))} GB/s" if r else missing(results, name)
            rows.append([path, f"decode GEMV {what} vs copy bandwidth", ratio, 0.8, detail])
        r = ok(results, DECODE)
        ratio = r.get("vs_copy_bw") if r else None
        detail = f"{f3(r.get('GBps'))} vs copy {f3(r.get('copy_GBps'))} GB/s" if r else missing(results, DECODE)
        rows.append([path, "decode attention B=16 KV=8192 GQA 32/8 vs copy bandwidth", ratio, 0.7, detail])
    r = ok(results, PREFILL)
    tflops = r.get("TFLOPS") if r else None
    ratio = tflops / sdpa_tflops if tflops and sdpa_tflops else None
    detail = (f"{f3(tflops)} vs SDPA {f3(sdpa_tflops)} TFLOP/s" if tflops and sdpa_tflops else
              f"{f3(tflops)} TFLOP/s, no SDPA figure" if tflops else missing(results, PREFILL))
    rows.append([path, "prefill B=1 H=32 S=4096 D=128 causal vs PyTorch SDPA flash", ratio,
                 PREFILL_THRESHOLDS.get(path), detail])
    return rows


def load_sdpa(path):
    if not path or not os.path.exists(path):
        return None, {}
    import json  # pylint: disable=import-outside-toplevel
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for r in doc.get("results", []):
        if r.get("name") == SDPA_PREFILL:
            return r.get("TFLOPS"), doc.get("context", {})
    return None, doc.get("context", {})


def report(paths, sdpa_path):
    sdpa_tflops, sdpa_ctx = load_sdpa(sdpa_path)
    out = ["# CUDA backend targets", ""]
    rows = []
    for name, file in paths:
        if not os.path.exists(file):
            out.append(f"- `{name}`: {file} missing (the run did not happen or crashed)")
            continue
        ctx, results = bench_report.load(file)
        out.append(f"- `{name}`: {ctx.get('porta_device', '?')}, baseline {ctx.get('baseline', 'none')}, "
                   f"copy {ctx.get('porta_copy_gbps', '?')} GB/s, command `{ctx.get('command', '?')}`")
        for path_name, what, ratio, threshold, detail in rows_for(name, results, sdpa_tflops):
            rows.append([f"`{path_name}`", what, bench_report.f3(ratio) + "×" if ratio is not None else "—",
                         f"≥ {threshold}×" if threshold else "—", verdict(ratio, threshold), detail])
    if sdpa_ctx:
        out.append(f"- SDPA: torch {sdpa_ctx.get('torch', '?')} on {sdpa_ctx.get('device', '?')}")
    out += ["", bench_report.table(["path", "target", "measured", "threshold", "result", "detail"], rows), ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", action="append", default=[], metavar="NAME=FILE", help="one porta-bench JSON per path")
    ap.add_argument("--sdpa", help="benchmarks/sdpa_reference.py --out JSON")
    ap.add_argument("-o", "--output", help="also write the Markdown here")
    args = ap.parse_args()
    paths = []
    for p in args.path:
        if "=" not in p:
            ap.error(f"--path takes NAME=FILE, got {p!r}")
        paths.append(tuple(p.split("=", 1)))
    if not paths:
        ap.error("give at least one --path NAME=FILE")
    text = report(paths, args.sdpa)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
