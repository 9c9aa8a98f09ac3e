#!/usr/bin/env python3
"""Plot `prospect soak --jsonl` output as one SVG (no packages beyond the standard library).

    python3 scripts/soak_plot.py SOAK.jsonl [MORE.jsonl ...] --out docs/soak.svg [--label NAME ...]

Three panels against time (minutes, each point a window's middle): resident memory (MB, VmRSS at the window's
end), per-frame latency p50 and p99 (ms), and DST transition F1 / speaking F1. Several runs share the axes,
each in its own dash style, named by --label (default: the file names).
"""
import argparse
import json
import os


def read(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            j = json.loads(line)
            if "window" in j:
                rows.append(j)
    return rows


def panel(x0, y0, w, h, title, series, ymin=None, ymax=None, xmax=60.0):
    """series: list of (label, colour, dash, [(x, y)]). Returns SVG text."""
    ys = [y for _, _, _, pts in series for _, y in pts if y is not None]
    lo = min(ys) if ymin is None else ymin
    hi = max(ys) if ymax is None else ymax
    if hi <= lo:
        hi = lo + 1.0
    pad = 0.08 * (hi - lo)
    if ymin is None:
        lo -= pad
    if ymax is None:
        hi += pad
    sx = lambda x: x0 + 50 + (w - 60) * x / xmax
    sy = lambda y: y0 + h - 25 - (h - 45) * (y - lo) / (hi - lo)
    out = [f'<text x="{x0 + 50}" y="{y0 + 14}" font-size="13" font-weight="bold">{title}</text>']
    out.append(f'<rect x="{x0 + 50}" y="{y0 + 20}" width="{w - 60}" height="{h - 45}" fill="none" stroke="#999"/>')
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        out.append(f'<text x="{x0 + 45}" y="{sy(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.3g}</text>')
        out.append(f'<line x1="{x0 + 50}" x2="{x0 + w - 10}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#eee"/>')
    for m in range(0, int(xmax) + 1, 10):
        out.append(f'<text x="{sx(m):.1f}" y="{y0 + h - 10}" font-size="10" text-anchor="middle">{m} min</text>')
    ly = y0 + 34
    for label, colour, dash, pts in series:
        pts = [(x, y) for x, y in pts if y is not None]
        if not pts:
            continue
        d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>')
        out.append(f'<text x="{x0 + w - 15}" y="{ly}" font-size="10" text-anchor="end" fill="{colour}">{label}</text>')
        ly += 12
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", action="append", default=[])
    a = ap.parse_args()
    runs = [read(p) for p in a.runs]
    labels = a.label + [os.path.basename(p) for p in a.runs[len(a.label):]]
    dashes = ["", "6,3", "2,2", "8,2,2,2"]
    mid = lambda r: sum(r["minutes"]) / 2
    xmax = max(max(r["minutes"][1] for r in rows) for rows in runs)
    W, H = 760, 220
    mem, lat, f1 = [], [], []
    for k, (rows, label) in enumerate(zip(runs, labels)):
        dash = dashes[k % len(dashes)]
        mem.append((f"{label}: RSS", "#1f77b4", dash, [(mid(r), r["rss_mb"]) for r in rows]))
        lat.append((f"{label}: p50", "#2ca02c", dash, [(mid(r), r["ms_p50"]) for r in rows]))
        lat.append((f"{label}: p99", "#d62728", dash, [(mid(r), r["ms_p99"]) for r in rows]))
        f1.append((f"{label}: DST F1", "#9467bd", dash, [(mid(r), r["dst_f1"]) for r in rows]))
        f1.append((f"{label}: speaking F1", "#ff7f0e", dash, [(mid(r), r["speaking_f1"]) for r in rows]))
    body = [
        panel(0, 0, W, H, "Resident memory (MB, VmRSS at the end of each window)", mem, ymin=0, xmax=xmax),
        panel(0, H, W, H, "Per-frame latency (ms)", lat, ymin=0, xmax=xmax),
        panel(0, 2 * H, W, H, "F1 per window", f1, ymin=0, ymax=1, xmax=xmax),
    ]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{3 * H}" font-family="sans-serif">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")
    with open(a.out, "w") as f:
        f.write(svg)
    print(f"soak_plot: {a.out} ({len(runs)} runs)")


if __name__ == "__main__":
    main()
