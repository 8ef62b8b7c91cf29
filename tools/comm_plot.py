#!/usr/bin/env python3
"""SVG plot of porta-comm-bench CSVs (--csv): bus bandwidth against message size, porta and
the MPI_Allreduce baseline per device, log-log. Standard library only.

usage: comm_plot.py out.svg run1.csv [run2.csv ...]
"""
import csv
import html
import math
import sys

W, H, L, R, T, B = 860, 440, 70, 230, 40, 60
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def main(out, files):
    series = []  # (label, [(bytes, GB/s)], dashed)
    for f in files:
        rows = list(csv.DictReader(open(f)))
        if not rows:
            continue
        dev = rows[0]["device"].split(" (")[0]
        series.append((f"porta {dev} ({rows[0]['transport']})",
                       [(int(r["bytes"]), float(r["porta_busbw_gbps"])) for r in rows], False))
        series.append((f"MPI_Allreduce, host ({dev} run)",
                       [(int(r["bytes"]), float(r["mpi_busbw_gbps"])) for r in rows], True))
    pts = [p for _, s, _ in series for p in s if p[1] > 0]
    if not pts:
        sys.exit("comm_plot: no data")
    x0, x1 = math.log2(min(p[0] for p in pts)), math.log2(max(p[0] for p in pts))
    y0 = math.floor(math.log10(min(p[1] for p in pts)))
    y1 = math.ceil(math.log10(max(p[1] for p in pts)))
    if y1 == y0:
        y1 += 1
    def sx(b):
        return L + (math.log2(b) - x0) / max(x1 - x0, 1) * (W - L - R)
    def sy(v):
        return H - B - (math.log10(v) - y0) / (y1 - y0) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">all_reduce bus bandwidth (nccl-tests definition), 2 ranks</text>']
    for e in range(int(y0), int(y1) + 1):
        y = sy(10 ** e)
        o.append(f'<line x1="{L}" x2="{W-R}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{L-6}" y="{y+4}" text-anchor="end">{10**e:g}</text>')
    for k in range(int(x0), int(x1) + 1, 2):
        x = sx(2 ** k)
        lab = f"{2**k // 1024} KiB" if k < 20 else f"{2**k // 2**20} MiB"
        o.append(f'<line x1="{x}" x2="{x}" y1="{T}" y2="{H-B}" stroke="#eee"/><text x="{x}" y="{H-B+16}" text-anchor="middle">{lab}</text>')
    o.append(f'<text x="{(L+W-R)/2}" y="{H-15}" text-anchor="middle">message size</text>')
    o.append(f'<text x="15" y="{(T+H-B)/2}" transform="rotate(-90 15 {(T+H-B)/2})" text-anchor="middle">bus bandwidth, GB/s</text>')
    for i, (label, s, dashed) in enumerate(series):
        c = COLORS[(i // 2) % len(COLORS)]
        d = " ".join(f"{sx(b):.1f},{sy(v):.1f}" for b, v in s if v > 0)
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{d}"'
                 + (' stroke-dasharray="5,4"' if dashed else "") + "/>")
        y = T + 14 * i
        o.append(f'<line x1="{W-R+10}" x2="{W-R+30}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="2"'
                 + (' stroke-dasharray="5,4"' if dashed else "") + f'/><text x="{W-R+34}" y="{y+4}">{html.escape(label)}</text>')
    o.append("</svg>")
    open(out, "w").write("\n".join(o))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
