#!/usr/bin/env python3
"""Markdown report for porta-bench results (Google Benchmark JSON).

  bench_report.py porta-bench.json [-o summary.md] [--plots DIR]
                                                     one run: header, tables, targets, SVG plots
  bench_report.py --compare a.json b.json             per-benchmark ratios between runs

Only the Python standard library is used.
"""

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys

# The acceptance targets: (id, description, threshold).
TARGETS = {
    "gemm_f32_vs_baseline": ("f32 GEMM 2048³ vs the vendor baseline (time ratio)", 0.8),
    "gemm_bf16w_vs_f32": ("bf16-weight GEMM 2048³ vs porta f32 GEMM 2048³ (FLOP/s)", 0.7),
    "attn_prefill_vs_gemm_f32": ("attention prefill S=1024 causal vs porta f32 GEMM 2048³ (FLOP/s)", 0.4),
    "attn_decode_vs_copy_bw": ("attention decode KV=4096 B=1 vs porta copy bandwidth (bytes/s)", 0.5),
}

GEMM_2048 = "gemm/{}/M=2048/N=2048/K=2048"
PREFILL_1024 = "attention/prefill/{}/B=1/Hq=32/Hkv=8/D=128/S=1024/causal"
DECODE_4096 = "attention/decode/{}/B=1/Hq=32/Hkv=8/D=128/KV=4096"


# ---------------------------------------------------------------- loading


def clean_name(name):
    """Drops Google Benchmark's suffixes (/manual_time, /min_time:0.2, ...)."""
    parts = [p for p in name.split("/") if p not in ("manual_time", "real_time")]
    parts = [p for p in parts if not p.startswith(("min_time:", "iterations:", "repeats:"))]
    return "/".join(parts)


def load(path):
    """Returns (context, {clean name: result}) with one result per benchmark:
    the median aggregate when repetitions ran, else the median of the runs."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    runs, medians = {}, {}
    for b in data.get("benchmarks", []):
        name = clean_name(b.get("run_name") or b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
            continue
        runs.setdefault(name, []).append(b)
    results = {}
    for name, rs in runs.items():
        if name in medians:
            results[name] = medians[name]
            continue
        ok = [r for r in rs if not r.get("error_occurred")]
        if not ok:
            results[name] = rs[0]
            continue
        ok.sort(key=lambda r: r["real_time"])
        results[name] = ok[len(ok) // 2]
    return data.get("context", {}), results


def fields(name):
    """'gemm/f32/M=1/N=4096/K=4096/BT' -> ['gemm','f32','BT'], {'M':'1',...}."""
    words, kv = [], {}
    for p in name.split("/"):
        if "=" in p:
            k, v = p.split("=", 1)
            kv[k] = v
        else:
            words.append(p)
    return words, kv


def ms(r):
    """Time per iteration in milliseconds."""
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[r.get("time_unit", "ns")]
    return r["real_time"] * scale


def num(ctx, key):
    try:
        v = float(ctx.get(key, ""))
        return v if v > 0 else None
    except ValueError:
        return None


# ---------------------------------------------------------------- formatting


def f3(v):
    """Three significant digits, no scientific notation for the usual ranges."""
    if v is None:
        return "—"
    if v == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{digits}f}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def flops_unit(results):
    """GFLOP/s when nothing reaches 1 TFLOP/s (CPUs), else TFLOP/s."""
    top = max((r.get("TFLOPS", 0) for r in results), default=0)
    return ("GFLOP/s", 1e3) if top < 1 else ("TFLOP/s", 1.0)


def pct(r):
    return f3(r["pct_peak"]) + " %" if "pct_peak" in r else "—"


# ---------------------------------------------------------------- sections


def git_commit(repo):
    try:
        rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def header(ctx, args):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = args.commit or git_commit(repo) or "unknown"
    lines = ["# porta-bench report", ""]
    lines.append(f"- **Device:** {ctx.get('porta_device', '?')} "
                 f"(backend {ctx.get('porta_backend', '?')}, {ctx.get('porta_device_type', '?')}, "
                 f"{ctx.get('porta_threads', '?')} threads)")
    peaks = (f"{f3(num(ctx, 'peak_tflops_f32') and num(ctx, 'peak_tflops_f32') * 1e3)} GFLOP/s f32, "
             f"{f3(num(ctx, 'peak_gbps'))} GB/s — {ctx.get('peak_source', '?')}")
    lines.append(f"- **Peaks used for % of peak:** {peaks}")
    extra = []
    if num(ctx, "host_fma_gflops"):
        extra.append(f"host FMA loop {f3(num(ctx, 'host_fma_gflops'))} GFLOP/s")
    if num(ctx, "host_memcpy_gbps"):
        extra.append(f"host memcpy {f3(num(ctx, 'host_memcpy_gbps'))} GB/s")
    if num(ctx, "porta_copy_gbps"):
        extra.append(f"porta::ops::copy {f3(num(ctx, 'porta_copy_gbps'))} GB/s")
    if num(ctx, "nominal_peak_tflops_f32"):
        extra.append(f"device's nominal f32 peak {f3(num(ctx, 'nominal_peak_tflops_f32') * 1e3)} GFLOP/s")
    if extra:
        lines.append("- **Measured:** " + "; ".join(extra) + " (bandwidths count bytes read + written)")
    lines.append(f"- **Baseline:** {ctx.get('baseline', 'none')}")
    lines.append(f"- **Date:** {ctx.get('date', datetime.datetime.now().isoformat(timespec='seconds'))}"
                 f" on {ctx.get('host_name', '?')}")
    lines.append(f"- **Commit:** {commit}; porta {ctx.get('porta_version', '?')}")
    lines.append(f"- **Command:** `{args.command or ctx.get('command', ctx.get('executable', '?'))}`"
                 f" ({ctx.get('bench_set', '?')} set)")
    if ctx.get("library_build_type") == "debug":
        lines.append("- Note: Google Benchmark reports its own library as a debug build (Debian's package); "
                     "porta's timings are taken by porta-bench itself and are unaffected.")
    return "\n".join(lines)


def gemm_section(results):
    rows_in = [(n, r) for n, r in results.items() if n.startswith("gemm/") and not r.get("error_occurred")]
    if not rows_in:
        return None
    unit, mult = flops_unit(r for _, r in rows_in)
    with_base = any("vs_baseline" in r for _, r in rows_in)
    with_bw = any("weight_GBps" in r for _, r in rows_in)
    head = ["shape", "M", "N", "K", "dtype", "time (ms)", unit, "% peak"]
    if with_bw:
        head += ["weights GB/s (% of bw)"]
    if with_base:
        head += ["baseline (ms)", "vs baseline"]
    rows = []
    for n, r in rows_in:
        words, kv = fields(n)
        layout = "x·Wᵀ" if "BT" in words else "A·B"
        row = [f"{r.get('label', '')} ({layout})", kv.get("M"), kv.get("N"), kv.get("K"), words[1], f3(ms(r)),
               f3(r.get("TFLOPS", 0) * mult), pct(r)]
        if with_bw:
            row += [f"{f3(r['weight_GBps'])} ({f3(r.get('pct_peak_bw'))} %)" if "weight_GBps" in r else ""]
        if with_base:
            row += [f3(r.get("baseline_ms")), f3(r.get("vs_baseline")) + "×" if "vs_baseline" in r else "—"]
        rows.append(row)
    notes = []
    if with_bw:
        notes.append("M ≤ 16 streams the weights: their GB/s is the figure that matters there; weights are "
                     "rotated over copies larger than the LLC (for the baseline too).")
    note = ("vs baseline = baseline time / porta time on the same shape, runs interleaved (> 1: porta faster)."
            if with_base else "No baseline for this device in this build: no ratio column.")
    return "## GEMM\n\n" + table(head, rows) + "\n\n" + " ".join(notes + [note])


def attention_section(results):
    pre = [(n, r) for n, r in results.items() if n.startswith("attention/prefill/") and not r.get("error_occurred")]
    dec = [(n, r) for n, r in results.items() if n.startswith("attention/decode/") and not r.get("error_occurred")]
    if not pre and not dec:
        return None
    parts = ["## Attention"]
    if pre:
        unit, mult = flops_unit(r for _, r in pre)
        rows = []
        for n, r in pre:
            words, kv = fields(n)
            rows.append([words[2], kv.get("S"), words[3], f"B={kv['B']} Hq={kv['Hq']} Hkv={kv['Hkv']} D={kv['D']}",
                         f3(ms(r)), f3(r.get("TFLOPS", 0) * mult), pct(r)])
        parts.append("### Prefill (FLOPs = 4·B·Hq·S²·D, halved when causal)\n\n" +
                     table(["dtype", "S", "mask", "geometry", "time (ms)", unit, "% peak"], rows))
    if dec:
        rows = []
        for n, r in dec:
            words, kv = fields(n)
            rows.append([words[2], kv.get("B"), kv.get("KV"), f"Hq={kv['Hq']} Hkv={kv['Hkv']} D={kv['D']}",
                         f3(ms(r)), f3(r.get("GBps")), pct(r), f3(r.get("copy_GBps")),
                         f3(r.get("TFLOPS", 0) * 1e3)])
        parts.append("### Decode (one query per sequence; bytes = K + V read; K/V rotated over copies larger "
                     "than the LLC so each call reads memory)\n\n" +
                     table(["dtype", "B", "KV", "geometry", "time (ms)", "GB/s", "% peak", "copy GB/s (same run)",
                            "GFLOP/s"], rows))
    return "\n\n".join(parts)


def elementwise_section(results):
    rows_in = [(n, r) for n, r in results.items() if n.startswith("elementwise/") and not r.get("error_occurred")]
    if not rows_in:
        return None
    rows = []
    for n, r in rows_in:
        words, _ = fields(n)
        rows.append([words[1], words[2], "[" + words[3].replace("x", ", ") + "]", f3(ms(r)), f3(r.get("GBps")),
                     pct(r)])
    return ("## Bandwidth-bound ops (bytes read + written)\n\n" +
            table(["op", "dtype", "shape", "time (ms)", "GB/s", "% peak"], rows))


def errors_section(results):
    bad = [(n, r.get("error_message", "?")) for n, r in results.items() if r.get("error_occurred")]
    if not bad:
        return None
    by_msg = {}
    for n, msg in bad:
        by_msg.setdefault(msg, []).append(n)
    lines = [f"## Not run ({len(bad)})", ""]
    for msg, names in by_msg.items():
        shown = ", ".join(f"`{x}`" for x in names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        lines.append(f"- {msg}: {shown}")
    return "\n".join(lines)


def target_rows(ctx, results):
    """Rows of (target id, what, measured ratio or None, threshold, detail)."""

    def ok(name):
        r = results.get(name)
        return r if r and not r.get("error_occurred") else None

    def rate(name, key):
        r = ok(name)
        return r.get(key) if r else None

    rows = []
    g32 = rate(GEMM_2048.format("f32"), "TFLOPS")
    r = ok(GEMM_2048.format("f32"))
    vs = r.get("vs_baseline") if r else None
    detail = (f"porta {f3(ms(r))} ms vs baseline {f3(r.get('baseline_ms'))} ms" if vs else
              "no baseline on this device/build" if r else "GEMM f32 2048³ not run")
    rows.append(("gemm_f32_vs_baseline", None, vs, detail))

    bw = rate(GEMM_2048.format("f32xbf16w"), "TFLOPS")
    rows.append(("gemm_bf16w_vs_f32", None, bw / g32 if bw and g32 else None,
                 f"{f3(bw * 1e3)} vs {f3(g32 * 1e3)} GFLOP/s" if bw and g32 else "a 2048³ GEMM did not run"))

    for dtype in ("f32", "f16"):
        a = rate(PREFILL_1024.format(dtype), "TFLOPS")
        rows.append(("attn_prefill_vs_gemm_f32", dtype, a / g32 if a and g32 else None,
                     f"{f3(a * 1e3)} vs {f3(g32 * 1e3)} GFLOP/s" if a and g32 else "prefill or GEMM did not run"))

    copy_bw, src = num(ctx, "porta_copy_gbps"), "porta::ops::copy"
    if not copy_bw:
        copy_bw, src = rate("elementwise/copy/f32/8192x4096", "GBps"), "elementwise copy"
    for dtype in ("f16", "f32"):
        d = rate(DECODE_4096.format(dtype), "GBps")
        ref, ref_src = rate(DECODE_4096.format(dtype), "copy_GBps"), "ops::copy interleaved with decode"
        if not ref:
            ref, ref_src = copy_bw, src
        rows.append(("attn_decode_vs_copy_bw", dtype, d / ref if d and ref else None,
                     f"{f3(d)} vs {f3(ref)} GB/s ({ref_src})" if d and ref else "decode or copy did not run"))
    return rows


def quant_section(results):
    """gemm_quant/<format>/M=/N=/K=: quantized weights against porta's bf16 weights, same run."""
    rows_in = [(n, r) for n, r in results.items() if n.startswith("gemm_quant/") and not r.get("error_occurred")]
    if not rows_in:
        return None
    unit, mult = flops_unit(r for _, r in rows_in)
    head = ["shape", "weights", "M", "N", "K", "bytes/weight", "time (ms)", unit, "weights GB/s",
            "% of copy bw", "bf16w (ms)", "time vs bf16w"]
    rows = []
    for n, r in rows_in:
        words, kv = fields(n)
        label = r.get("label", "")
        rows.append([label.split(",")[0], words[1], kv.get("M"), kv.get("N"), kv.get("K"),
                     f3(r.get("bytes_per_weight")), f3(ms(r)), f3(r.get("TFLOPS", 0) * mult),
                     f3(r.get("weight_GBps")), f3(r.get("pct_copy_bw")) + " %" if "pct_copy_bw" in r else "—",
                     f3(r.get("bf16w_ms")), f3(r.get("time_vs_bf16w")) + "×" if "time_vs_bf16w" in r else "—"])
    note = ("time vs bf16w = quantized time / porta's bf16-weight GEMM time on the same shape, runs interleaved "
            "(< 1: the quantized weights are faster). Bytes per weight count codes, scales and zero points; "
            "% of copy bw is weight GB/s against porta::ops::copy's read + write rate, timed right before and after "
            "the row. M = 1 rotates weights "
            "over copies larger than the LLC (both sides).")
    return "## Quantized weights\n\n" + table(head, rows) + "\n\n" + note


def targets_section(ctx, results):
    rows = []
    for tid, dtype, ratio, detail in target_rows(ctx, results):
        what, threshold = TARGETS[tid]
        verdict = "n/a" if ratio is None else ("**pass**" if ratio >= threshold else "**FAIL**")
        label = f"`{tid}`" + (f" ({dtype})" if dtype else "")
        rows.append([label, what, f3(ratio) + "×" if ratio is not None else "—", f"≥ {threshold}×", verdict,
                     detail])
    return "## Targets\n\n" + table(["target", "definition", "measured", "threshold", "result", "detail"], rows)


def plots_section(ctx, results, plots_dir, md_path, model_paths=()):
    """Writes the SVG plots and links them from the report (paths relative to it)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_plots  # pylint: disable=import-outside-toplevel
    made = bench_plots.write_all(ctx, results, plots_dir, load_model(model_paths))
    if not made:
        return ""
    base = os.path.dirname(os.path.abspath(md_path)) if md_path else os.getcwd()
    rel = os.path.relpath(os.path.abspath(plots_dir), base)
    lines = ["## Plots", ""]
    for title, name in made:
        lines += [f"![{title}]({os.path.join(rel, name) if rel != '.' else name})", ""]
    return "\n".join(lines).rstrip()


MODEL_KEYS = ("device", "model", "weights", "prefill_tok_s", "prefill_vs_gemm_bound", "decode_tok_s",
              "decode_bound_tok_s", "decode_vs_bound", "bytes_per_token_mib")


def load_model(paths):
    """porta-run --bench --json results; a file missing a figure is an error naming it."""
    out = []
    for path in paths or ():
        with open(path) as f:
            r = json.load(f)
        missing = [k for k in MODEL_KEYS if k not in r]
        if missing:
            raise SystemExit(f"{path}: not a porta-run --bench --json result (no {', '.join(missing)})")
        out.append(r)
    return out


def model_section(paths):
    """porta-run --bench --json results: tokens/s per device and weight format against the bounds."""
    results = load_model(paths)
    if not results:
        return ""
    rows = []
    notes = []
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_plots  # pylint: disable=import-outside-toplevel
    for r in sorted(results, key=bench_plots.model_sort_key):
        rows.append([r["device"], r["model"].replace(" (random bf16 weights)", ""), r["weights"],
                     f"{r['prefill_tok_s']:.3g}", f"{r['prefill_vs_gemm_bound'] * 100:.0f} %",
                     f"{r['decode_tok_s']:.3g}", f"{r['decode_bound_tok_s']:.3g}",
                     f"{r['decode_vs_bound'] * 100:.0f} %" + (" ⚠" if r.get("warning") else ""),
                     f"{r['bytes_per_token_mib']:.0f}",
                     f"{r['copy_gbps']:.1f}" if "copy_gbps" in r else "—"])
        note = r.get("note")
        if note and note not in notes:
            notes.append(note)
        if r.get("warning"):
            notes.append(f"⚠ {r['device']} {r['weights'].split(' (')[0]}: {r['warning']}")
    lines = ["## Model (porta-run --bench --synthetic)", "",
             "Decode bound = porta::ops::copy bandwidth (measured in the same run) ÷ weight bytes read per "
             "token; prefill bound = porta's GEMM FLOP/s on the model's own down projection at the prefill "
             "shape ÷ FLOPs per token. Rows whose model is not llama3-8b ran a reduced preset (the device "
             "could not hold the 8B)." + "".join(f" {n[0].upper() + n[1:]}." for n in notes), "",
             table(["device", "model", "weights", "prefill tok/s", "of GEMM bound", "decode tok/s",
                    "bound tok/s", "of bound", "MiB/token", "copy GB/s"], rows)]
    return "\n".join(lines)


def model_report(args):
    """--model without a porta-bench run: the Model section and its plots alone."""
    sections = ["# porta-run model report", model_section(args.model)]
    if args.plots:
        sections.append(plots_section({}, {}, args.plots, args.output, args.model))
    return "\n\n".join(s for s in sections if s) + "\n"


def report(args):
    ctx, results = load(args.json)
    sections = [header(ctx, args), targets_section(ctx, results), gemm_section(results),
                quant_section(results), attention_section(results), elementwise_section(results),
                model_section(args.model), errors_section(results)]
    if args.plots:
        sections.append(plots_section(ctx, results, args.plots, args.output, args.model))
    return "\n\n".join(s for s in sections if s) + "\n"


# ---------------------------------------------------------------- compare


def compare(a_path, b_path):
    _, a = load(a_path)
    _, b = load(b_path)
    rows, ratios = [], []
    for name in a:
        if name not in b or a[name].get("error_occurred") or b[name].get("error_occurred"):
            continue
        ta, tb = ms(a[name]), ms(b[name])
        ratio = ta / tb if tb > 0 else None
        if ratio:
            ratios.append(ratio)
        rows.append([f"`{name}`", f3(ta), f3(tb), f3(ratio) + "×" if ratio else "—"])
    only = sorted(set(a) ^ set(b))
    out = [f"# porta-bench: {os.path.basename(b_path)} vs {os.path.basename(a_path)}", "",
           "speedup = time in A / time in B (> 1: B faster)", "",
           table(["benchmark", "A (ms)", "B (ms)", "speedup"], rows)]
    if ratios:
        geo = math.exp(statistics.fmean(math.log(x) for x in ratios))
        out += ["", f"Geometric mean speedup over {len(ratios)} benchmarks: {f3(geo)}×"]
    if only:
        out += ["", f"In only one run ({len(only)}): " + ", ".join(f"`{x}`" for x in only[:10]) +
                (" …" if len(only) > 10 else "")]
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json", nargs="?", help="porta-bench --benchmark_out JSON")
    p.add_argument("-o", "--output", help="write the Markdown here (default: stdout)")
    p.add_argument("--commit", help="git commit to print (default: git rev-parse of this checkout)")
    p.add_argument("--command", help="command line to print (default: the one recorded by porta-bench)")
    p.add_argument("--model", nargs="+", metavar="JSON", help="porta-run --bench --json results for the model table")
    p.add_argument("--plots", metavar="DIR", help="also write SVG plots into DIR and link them from the report")
    p.add_argument("--compare", nargs=2, metavar=("A_JSON", "B_JSON"), help="per-benchmark ratios of two runs")
    args = p.parse_args()
    if args.compare:
        text = compare(*args.compare)
    elif args.json:
        text = report(args)
    elif args.model:
        text = model_report(args)
    else:
        p.error("give a JSON file, --model JSON... or --compare A B")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
