#!/usr/bin/env python3
"""Vulkan and OpenCL on a real GPU against the CUDA backend and PyTorch SDPA (scripts/gpu-check.sh).

    tools/vkcl_gpu_report.py [--cuda bench-cuda-attn.json] [--sdpa sdpa.json] BENCH.json... [-o vkcl.md]

Each BENCH.json is a porta-bench run on one backend (PORTA_DEVICE=vulkan / opencl) with the
GEMM, attention and copy rows. For every attention row the table gives the backend's figure,
its ratio to its own f32 GEMM 1024^3 (prefill) or to its own ops::copy bandwidth (decode),
and its ratio to the CUDA backend's figure for the same benchmark name; prefill S=4096 also
against SDPA's bf16 flash prefill at that length. Missing inputs leave empty cells, never
invented figures.
"""
import argparse
import json
import os
import sys


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def rows_by_name(doc):
    out = {}
    for b in (doc or {}).get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        out[b["name"].replace("/manual_time", "")] = b
    return out


def f3(v):
    return "" if v is None else f"{v:.3g}"


def ratio(a, b):
    return a / b if a and b else None


def sdpa_prefill_tflops(doc):
    for r in (doc or {}).get("results", []):
        if r.get("name", "").startswith("attention/prefill/") and "S=4096" in r.get("name", ""):
            return r.get("TFLOPS")
    return None


def report(bench_paths, cuda_path, sdpa_path):
    cuda = rows_by_name(load(cuda_path))
    sdpa = sdpa_prefill_tflops(load(sdpa_path))
    out = ["## Vulkan and OpenCL on the GPU's own drivers", ""]
    for path in bench_paths:
        doc = load(path)
        if doc is None:
            out += [f"- {os.path.basename(path)}: missing (the step failed or was skipped)", ""]
            continue
        ctx = doc.get("context", {})
        rows = rows_by_name(doc)
        gemm = next((b.get("TFLOPS") for n, b in rows.items() if n.startswith("gemm/f32/M=1024/N=1024/K=1024")), None)
        out += [f"### {ctx.get('porta_device', os.path.basename(path))}", "",
                f"- f32 GEMM 1024^3: {f3(gemm)} TFLOP/s", "",
                "| benchmark | figure | vs own GEMM / copy | vs CUDA backend | vs SDPA |", "|---|---|---|---|---|"]
        for name, b in sorted(rows.items()):
            if not name.startswith("attention/"):
                continue
            c = cuda.get(name, {})
            if "/prefill/" in name:
                v = b.get("TFLOPS")
                own = ratio(v, gemm)
                vs_sdpa = ratio(v, sdpa) if "S=4096" in name else None
                out.append(f"| {name} | {f3(v)} TFLOP/s | {f3(own)} | {f3(ratio(v, c.get('TFLOPS')))} | {f3(vs_sdpa)} |")
            else:
                v = b.get("GBps")
                out.append(f"| {name} | {f3(v)} GB/s | {f3(b.get('vs_copy_bw'))} | {f3(ratio(v, c.get('GBps')))} | |")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", nargs="+")
    ap.add_argument("--cuda")
    ap.add_argument("--sdpa")
    ap.add_argument("-o", "--out")
    a = ap.parse_args()
    text = report(a.bench, a.cuda, a.sdpa)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
