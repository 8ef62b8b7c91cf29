"""SVG plots of a porta-bench run, written with the standard library only (no plotting
package to install on a lab machine): GEMM % of peak per shape, attention throughput
against sequence / KV length, a roofline of every GEMM and attention result, and the
model tokens/s of porta-run --bench against their bounds.

Used by bench_report.py (--plots DIR); the functions take the (context, results) pair
that bench_report.load() returns.
"""

import html
import math
import os

from bench_report import fields as _fields, num as _num  # one parser for names and context

W, H = 900, 470
LEFT, RIGHT, TOP, BOTTOM = 70, 270, 48, 120
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i8": 1, "i32": 4}


def _esc(s):
    return html.escape(str(s), quote=True)


def _fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 100000 or abs(v) < 0.01:
        exp = int(math.floor(math.log10(abs(v))))
        mant = v / 10 ** exp
        return f"{mant:g}e{exp}" if mant != 1 else f"1e{exp}"
    return f"{v:g}"


class Axis:
    def __init__(self, lo, hi, log, pixels_lo, pixels_hi):
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.log, self.p0, self.p1 = lo, hi, log, pixels_lo, pixels_hi
        self.fixed = None  # explicit tick values (e.g. the measured sequence lengths)

    def __call__(self, v):
        x = math.log10(v) if self.log else v
        return self.p0 + (x - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)

    def ticks(self):
        if self.fixed:
            return self.fixed
        if self.log:
            return [10.0 ** e for e in range(math.ceil(self.lo - 1e-9), math.floor(self.hi + 1e-9) + 1)]
        span = self.hi - self.lo
        step = 10 ** math.floor(math.log10(span / 5))
        for m in (1, 2, 5, 10):
            if span / (step * m) <= 6:
                step *= m
                break
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step + 1e-9) + 1)]


class Svg:
    def __init__(self, title, subtitle=""):
        self.parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
                      f'viewBox="0 0 {W} {H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
                      f'<rect width="{W}" height="{H}" fill="white"/>',
                      f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">'
                      f'{_esc(title)}</text>']
        if subtitle:
            self.parts.append(f'<text x="{W / 2}" y="37" text-anchor="middle" fill="#555">{_esc(subtitle)}</text>')

    def add(self, s):
        self.parts.append(s)

    def axes(self, xa, ya, xlabel, ylabel, xticks=True):
        x0, x1, y0, y1 = LEFT, W - RIGHT, H - BOTTOM, TOP
        self.add(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#333"/>')
        for t in ya.ticks():
            y = ya(t)
            self.add(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
            self.add(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        if xticks:
            for t in xa.ticks():
                x = xa(t)
                self.add(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y1}" y2="{y0}" stroke="#eee"/>')
                self.add(f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">{_fmt(t)}</text>')
        self.add(f'<text x="{(x0 + x1) / 2}" y="{H - 10}" text-anchor="middle">{_esc(xlabel)}</text>')
        self.add(f'<text transform="translate(18,{(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">'
                 f'{_esc(ylabel)}</text>')

    def legend(self, entries):
        """entries: (label, color, style) with style "line", "dashed", "dot", "box" or "text"."""
        x, y = W - RIGHT + 14, TOP + 6
        for i, (label, color, style) in enumerate(entries):
            yy = y + 18 * i
            if style in ("line", "dashed"):
                dash = ' stroke-dasharray="5,3"' if style == "dashed" else ""
                self.add(f'<line x1="{x}" x2="{x + 22}" y1="{yy}" y2="{yy}" stroke="{color}" stroke-width="2.5"{dash}/>')
            elif style == "dot":
                self.add(f'<circle cx="{x + 11}" cy="{yy}" r="4.5" fill="{color}"/>')
            elif style == "box":
                self.add(f'<rect x="{x + 4}" y="{yy - 6}" width="14" height="12" fill="{color}"/>')
            self.add(f'<text x="{x + 28}" y="{yy + 4}" font-size="11">{_esc(label)}</text>')

    def write(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.parts + ["</svg>"]) + "\n")


def _device_line(ctx):
    dev = ctx.get("porta_device", "unknown device")
    return f"{dev} · porta {ctx.get('porta_version', '?')} · {ctx.get('bench_set', '')} set"


def gemm_percent_of_peak(ctx, results, path):
    """Bar chart: % of the device's peak per GEMM shape and dtype; OpenBLAS/cuBLAS/CLBlast
    ratio written above each bar when the run measured one."""
    rows = []
    for name, r in sorted(results.items()):
        words, kv = _fields(name)
        if words[0] != "gemm" or "pct_peak" not in r or r.get("error_occurred"):
            continue
        extra = "".join("/" + w for w in words[2:])
        rows.append((f"{words[1]} {kv.get('M')}×{kv.get('N')}×{kv.get('K')}{extra}", r["pct_peak"],
                     r.get("vs_baseline")))
    if not rows:
        return False
    svg = Svg("GEMM: % of device peak per shape", _device_line(ctx))
    top = max(100.0, max(v for _, v, _ in rows) * 1.1)
    ya = Axis(0, top, False, H - BOTTOM, TOP)
    xa = Axis(0, len(rows), False, LEFT, W - RIGHT)
    svg.axes(xa, ya, "shape (dtype M×N×K)", "% of peak FLOP/s", xticks=False)
    slot = (W - RIGHT - LEFT) / len(rows)
    for i, (label, v, ratio) in enumerate(rows):
        x = LEFT + i * slot + slot * 0.15
        y = ya(v)
        svg.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{H - BOTTOM - y:.1f}" '
                f'fill="{COLORS[0]}"><title>{_esc(label)}: {v:.1f} %</title></rect>')
        svg.add(f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10">{v:.0f}%'
                + (f" ({ratio:.2f}×)" if ratio else "") + "</text>")
        cx = x + slot * 0.35
        svg.add(f'<text transform="translate({cx:.1f},{H - BOTTOM + 8}) rotate(35)" font-size="9">'
                f'{_esc(label)}</text>')
    svg.legend([("% of peak FLOP/s", COLORS[0], "box"), ("(n×): speed vs the baseline", "", "text"),
                (f"baseline: {ctx.get('baseline', 'none')[:34]}", "", "text")])
    svg.write(path)
    return True


def _lines(ctx, series, title, xlabel, ylabel, path, hlines=()):
    """series: {label: [(x, y), ...]} on a log-x axis ticked at the measured x values;
    hlines: [(y, label)] dashed reference lines."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return False
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts] + [y for y, _ in hlines]
    xa = Axis(min(xs) / 1.5, max(xs) * 1.5, True, LEFT, W - RIGHT)
    xa.fixed = sorted(set(xs))
    ya = Axis(0, max(ys) * 1.15, False, H - BOTTOM, TOP)
    svg = Svg(title, _device_line(ctx))
    svg.axes(xa, ya, xlabel, ylabel)
    legend = []
    for y, label in hlines:
        svg.add(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{ya(y):.1f}" y2="{ya(y):.1f}" stroke="#555" '
                f'stroke-width="1.5" stroke-dasharray="6,4"/>')
        legend.append((label, "#555", "dashed"))
    for i, (label, pts) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        d = " ".join(f"{'M' if j == 0 else 'L'}{xa(x):.1f},{ya(y):.1f}" for j, (x, y) in enumerate(pts))
        svg.add(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in pts:
            svg.add(f'<circle cx="{xa(x):.1f}" cy="{ya(y):.1f}" r="3.5" fill="{color}">'
                    f'<title>{_esc(label)} x={x:g}: {y:.3g}</title></circle>')
        legend.append((label, color, "line"))
    svg.legend(legend)
    svg.write(path)
    return True


def attention_throughput(ctx, results, path_prefill, path_decode):
    """Prefill FLOP/s against sequence length and decode bytes/s against KV length."""
    prefill, decode = {}, {}
    top = max((r.get("TFLOPS", 0) for r in results.values()), default=0)
    unit, scale = ("TFLOP/s", 1.0) if top >= 1 else ("GFLOP/s", 1e3)
    for name, r in results.items():
        words, kv = _fields(name)
        if words[0] != "attention" or r.get("error_occurred"):
            continue
        if words[1] == "prefill" and "TFLOPS" in r:
            mask = words[3] if len(words) > 3 else ""
            prefill.setdefault(f"{words[2]} {mask} D={kv.get('D')}", []).append(
                (int(kv["S"]), r["TFLOPS"] * scale))
        elif words[1] == "decode" and "GBps" in r:
            decode.setdefault(f"{words[2]} B={kv.get('B')}", []).append((int(kv["KV"]), r["GBps"]))
    a = _lines(ctx, prefill, "Attention prefill: throughput against sequence length", "sequence length S",
               unit, path_prefill)
    copy = _num(ctx, "porta_copy_gbps")
    refs = [(copy, f"ops::copy {copy:.0f} GB/s"), (copy / 2, "half of ops::copy")] if copy else []
    b = _lines(ctx, decode, "Attention decode: K/V read bandwidth against KV length", "KV length", "GB/s",
               path_decode, refs)
    return a, b


def _gemm_bytes(words, kv):
    m, n, k = int(kv["M"]), int(kv["N"]), int(kv["K"])
    dt = words[1]
    a_bytes = 4 if dt in ("f32", "f32xbf16w") else DTYPE_BYTES.get(dt, 4)
    b_bytes = 2 if dt.endswith("bf16w") else DTYPE_BYTES.get(dt, 4)
    c_bytes = 4 if dt.startswith("f32") else DTYPE_BYTES.get(dt, 4)
    return m * k * a_bytes + k * n * b_bytes + m * n * c_bytes, 2.0 * m * n * k


def roofline(ctx, results, path):
    """Attained GFLOP/s against arithmetic intensity (FLOP per byte of compulsory traffic)
    for GEMM and attention, under the device's compute roof and bandwidth slope."""
    peak = _num(ctx, "peak_tflops_f32")
    bw = _num(ctx, "peak_gbps") or _num(ctx, "porta_copy_gbps")
    points = {}
    for name, r in results.items():
        words, kv = _fields(name)
        if r.get("error_occurred") or "TFLOPS" not in r:
            continue
        try:
            if words[0] == "gemm":
                nbytes, flops = _gemm_bytes(words, kv)
                group = "GEMM"
            elif words[0] == "attention" and words[1] == "prefill":
                es = DTYPE_BYTES.get(words[2], 4)
                s, d, hq, hkv = int(kv["S"]), int(kv["D"]), int(kv["Hq"]), int(kv["Hkv"])
                nbytes = (2 * hq + 2 * hkv) * s * d * es * int(kv.get("B", 1))
                flops = r.get("flop") or 0
                group = "attention prefill"
            elif words[0] == "attention" and words[1] == "decode":
                nbytes = r.get("bytes") or 0
                flops = 4.0 * int(kv["B"]) * int(kv["Hq"]) * int(kv["KV"]) * int(kv["D"])
                group = "attention decode"
            else:
                continue
        except (KeyError, ValueError):
            continue
        if nbytes > 0 and flops > 0:
            points.setdefault(group, []).append((flops / nbytes, r["TFLOPS"] * 1e3, name))
    if not points:
        return False
    xs = [p[0] for pts in points.values() for p in pts]
    ys = [p[1] for pts in points.values() for p in pts]
    roof = peak * 1e3 if peak else max(ys)
    xa = Axis(min(xs) / 2, max(xs) * 2, True, LEFT, W - RIGHT)
    y_lo = min(min(ys), bw * min(xs) / 2) if bw else min(ys)  # the slope's left end stays in view
    ya = Axis(y_lo / 2, roof * 2, True, H - BOTTOM, TOP)
    svg = Svg("Roofline: GEMM and attention", _device_line(ctx))
    svg.axes(xa, ya, "arithmetic intensity (FLOP / byte)", "attained GFLOP/s")
    legend = []
    if bw:
        x_lo, x_hi = 10 ** xa.lo, 10 ** xa.hi
        ridge = roof / bw
        pts = [(x_lo, bw * x_lo), (min(max(ridge, x_lo), x_hi), min(roof, bw * min(max(ridge, x_lo), x_hi))),
               (x_hi, min(roof, bw * x_hi))]
        d = " ".join(f"{'M' if i == 0 else 'L'}{xa(x):.1f},{ya(max(y, 10 ** ya.lo)):.1f}" for i, (x, y) in enumerate(pts))
        svg.add(f'<path d="{d}" fill="none" stroke="#333" stroke-width="2" stroke-dasharray="6,4"/>')
        legend.append((f"roof: {roof:.0f} GFLOP/s", "#333", "dashed"))
        legend.append((f"slope: {bw:.0f} GB/s", "", "text"))
    for i, (group, pts) in enumerate(sorted(points.items())):
        color = COLORS[i % len(COLORS)]
        for x, y, name in pts:
            svg.add(f'<circle cx="{xa(x):.1f}" cy="{ya(y):.1f}" r="4.5" fill="{color}" fill-opacity="0.8">'
                    f'<title>{_esc(name)}: {x:.3g} FLOP/B, {y:.3g} GFLOP/s</title></circle>')
        legend.append((group, color, "dot"))
    svg.legend(legend)
    svg.write(path)
    return True


def model_label(r):
    """'cpu:0 · llama3-8b · int4 g32' for one porta-run --bench result."""
    dev = r.get("device", "?").split(" (")[0]
    preset = r.get("model", "?").replace("synthetic ", "").split(" (")[0]
    weights = r.get("weights", "?").split(" (")[0]
    return f"{dev} · {preset} · {weights}"


def model_sort_key(r):
    """Device, model, then weights from the widest format to the narrowest."""
    rank = {"f32": 0, "f16": 1, "bf16": 2, "int8": 3, "int4": 4}
    w = r.get("weights", "?")
    return (r.get("device", "?"), r.get("model", "?"), rank.get(w.split(" ")[0], 9), w)


def _model_bars(rows, title, ylabel, bound_label, path):
    """rows: [(label, measured, bound)]: one bar per row with its bound drawn across the
    slot and the fraction of the bound above it; log y when the values span > 20×."""
    vals = [v for _, m, b in rows for v in (m, b) if v and v > 0]
    if not vals:
        return False
    log = max(vals) / min(vals) > 20
    ya = Axis(min(vals) / 2, max(vals) * 2, True, H - BOTTOM, TOP) if log else \
        Axis(0, max(vals) * 1.15, False, H - BOTTOM, TOP)
    xa = Axis(0, len(rows), False, LEFT, W - RIGHT)
    svg = Svg(title, "porta-run --bench --synthetic (per-layer time scaled to the model's depth)")
    svg.axes(xa, ya, "device · model · weights", ylabel, xticks=False)
    slot = (W - RIGHT - LEFT) / len(rows)
    formats = []
    for i, (label, m, b) in enumerate(rows):
        fmt = label.split(" · ")[-1].split(" ")[0]
        if fmt not in formats:
            formats.append(fmt)
        color = COLORS[formats.index(fmt) % len(COLORS)]
        x = LEFT + i * slot + slot * 0.2
        base = H - BOTTOM
        y = ya(m) if m > 0 else base
        svg.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{base - y:.1f}" fill="{color}">'
                f'<title>{_esc(label)}: {m:.3g} tok/s, bound {b:.3g}</title></rect>')
        if b and b > 0:
            yb = ya(b)
            svg.add(f'<line x1="{x - slot * 0.1:.1f}" x2="{x + slot * 0.7:.1f}" y1="{yb:.1f}" y2="{yb:.1f}" '
                    f'stroke="#333" stroke-width="2" stroke-dasharray="5,3"/>')
            svg.add(f'<text x="{x + slot * 0.3:.1f}" y="{min(y, yb) - 5:.1f}" text-anchor="middle" font-size="10">'
                    f'{m:.3g} ({m / b * 100:.0f} %)</text>')
        cx = x + slot * 0.3
        svg.add(f'<text transform="translate({cx:.1f},{H - BOTTOM + 8}) rotate(30)" font-size="9">'
                f'{_esc(label)}</text>')
    svg.legend([(f, COLORS[i % len(COLORS)], "box") for i, f in enumerate(formats)] +
               [(bound_label, "#333", "dashed"), ("(n %): of the bound", "", "text")])
    svg.write(path)
    return True


def model_tokens(model_results, path_decode, path_prefill):
    """Decode tok/s against the bandwidth bound (ops::copy GB/s ÷ weight bytes per token) and
    prefill tok/s against porta's GEMM bound, per device and weight format."""
    rows = sorted(model_results, key=model_sort_key)
    a = _model_bars([(model_label(r), r["decode_tok_s"], r.get("decode_bound_tok_s")) for r in rows],
                    "Model decode: tokens/s against the bandwidth bound", "decode tokens/s",
                    "copy GB/s ÷ bytes/token", path_decode)
    b = _model_bars([(model_label(r), r["prefill_tok_s"], r.get("prefill_bound_tok_s")) for r in rows],
                    "Model prefill: tokens/s against porta's GEMM bound", "prefill tokens/s",
                    "GEMM FLOP/s ÷ FLOPs/token", path_prefill)
    return a, b


def write_all(ctx, results, out_dir, model_results=()):
    """Writes every plot the run has data for into out_dir; returns [(title, file name)]."""
    os.makedirs(out_dir, exist_ok=True)
    made = []
    if model_results:
        a, b = model_tokens(model_results, os.path.join(out_dir, "model_decode.svg"),
                            os.path.join(out_dir, "model_prefill.svg"))
        if a:
            made.append(("Model decode tokens/s against the bandwidth bound", "model_decode.svg"))
        if b:
            made.append(("Model prefill tokens/s against the GEMM bound", "model_prefill.svg"))
    if gemm_percent_of_peak(ctx, results, os.path.join(out_dir, "gemm_percent_of_peak.svg")):
        made.append(("GEMM % of peak per shape", "gemm_percent_of_peak.svg"))
    a, b = attention_throughput(ctx, results, os.path.join(out_dir, "attention_prefill.svg"),
                                os.path.join(out_dir, "attention_decode.svg"))
    if a:
        made.append(("Attention prefill throughput against sequence length", "attention_prefill.svg"))
    if b:
        made.append(("Attention decode bandwidth against KV length", "attention_decode.svg"))
    if roofline(ctx, results, os.path.join(out_dir, "roofline.svg")):
        made.append(("Roofline", "roofline.svg"))
    return made
