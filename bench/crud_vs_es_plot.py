#!/usr/bin/env python3
"""bench/crud_vs_es_plot.py: the table and the plot of bench/crud_vs_es.sh's
results (Python 3 standard library only).

    python3 bench/crud_vs_es_plot.py RESULTS.csv [--table TABLE.md] [--svg PLOT.svg]

Each figure is the median over the runs (reps) of one configuration. The
table has one row per system and configuration; "vs herald" is the median
over reps of the system's throughput divided by herald's in the same rep. The plot has throughput and p99 delivery
latency against concurrent writers, for one hot room and for 100 rooms, on
log scales.
"""
import argparse
import csv
import math
import statistics
from collections import defaultdict

SYSTEMS = {  # name -> (label, colour), in plot and table order
    "herald": ("herald (event sourcing, group commit)", "#1f77b4"),
    "crud-cas": ("CRUD, optimistic (version check)", "#d62728"),
    "crud-lock": ("CRUD, write lock first", "#ff7f0e"),
}


def load(path):
    runs = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs[(row["system"], int(row["rooms"]), int(row["writers"]))].append(row)
    return runs


def median(rows, key):
    return statistics.median(float(r[key]) for r in rows)


def paired_ratio(runs, key):
    """Median over reps of this system's throughput / herald's in the same
    rep: the two ran one after the other, on the machine as it was then."""
    system, rooms, writers = key
    base = {r["rep"]: float(r["throughput"]) for r in runs.get(("herald", rooms, writers), [])}
    ratios = [float(r["throughput"]) / base[r["rep"]] for r in runs[key] if base.get(r["rep"])]
    return statistics.median(ratios) if ratios else None


def summarise(runs):
    """(system, rooms, writers) -> medians, plus per-message conflicts and CPU."""
    out = {}
    for key, rows in runs.items():
        acked = sum(float(r["acked"]) for r in rows)
        out[key] = {
            "ratio": paired_ratio(runs, key),
            "throughput": median(rows, "throughput"),
            "p50": median(rows, "p50_ms"),
            "p99": median(rows, "p99_ms"),
            "conflicts_per_msg": sum(float(r["conflicts"]) for r in rows) / acked if acked else 0,
            "busy": sum(int(r["busy_retries"]) for r in rows),
            "out_of_order": sum(int(r["out_of_order"]) for r in rows),
            "cpu_us_per_msg": 1e6 * sum(float(r["server_cpu_s"]) for r in rows) / acked if acked else 0,
            "reps": len(rows),
        }
    return out


def ordered_systems(summary):
    present = {k[0] for k in summary}
    return [s for s in SYSTEMS if s in present] + sorted(present - SYSTEMS.keys())


def table(summary):
    lines = [
        "| rooms | writers | system | messages/s | vs herald | p50 ms | p99 ms "
        "| conflicts per message | busy retries | out of order | server CPU µs/message |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    configs = sorted({(k[1], k[2]) for k in summary})
    for rooms, writers in configs:
        for system in ordered_systems(summary):
            s = summary.get((system, rooms, writers))
            if not s:
                continue
            ratio = f"{s['ratio']:.2f}" if s["ratio"] is not None else "-"
            lines.append(
                f"| {'1 (hot)' if rooms == 1 else rooms} | {writers} | {system} "
                f"| {s['throughput']:,.0f} | {ratio} | {s['p50']:.1f} | {s['p99']:.1f} "
                f"| {s['conflicts_per_msg']:.2f} | {s['busy']} | {s['out_of_order']} "
                f"| {s['cpu_us_per_msg']:.0f} |"
            )
    return "\n".join(lines) + "\n"


# ---- SVG ------------------------------------------------------------------

W, H = 860, 660
PANEL_W, PANEL_H = 330, 200
LEFT, TOP, GAP_X, GAP_Y = 85, 60, 90, 95


def log_ticks(lo, hi):
    """1-2-5 ticks spanning [lo, hi]."""
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10**e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def fmt(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def panel(x0, y0, title, ylabel, series, writers):
    """One log-log panel; series: [(colour, [(writers, value)])]."""
    values = [v for _, pts in series for _, v in pts if v > 0]
    if not values:
        return []
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi / lo < 10:
        hi = lo * 10
    xlo, xhi = min(writers), max(writers)
    xspan = math.log10(xhi / xlo) if xhi > xlo else 1

    def px(w):
        return x0 + (math.log10(w / xlo) / xspan) * PANEL_W

    def py(v):
        return y0 + PANEL_H - (math.log10(v / lo) / math.log10(hi / lo)) * PANEL_H

    out = [
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 - 12}" text-anchor="middle" font-weight="bold">{title}</text>',
        f'<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#888"/>',
        f'<text x="{x0 - 62}" y="{y0 + PANEL_H / 2}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 - 62} {y0 + PANEL_H / 2})">{ylabel}</text>',
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 + PANEL_H + 38}" text-anchor="middle">concurrent writers</text>',
    ]
    for t in log_ticks(lo, hi):
        y = py(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(t)}</text>')
    for w in writers:
        x = px(w)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + PANEL_H}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{x:.1f}" y="{y0 + PANEL_H + 16}" text-anchor="middle" font-size="11">{w}</text>')
    for colour, pts in series:
        pts = [(w, v) for w, v in sorted(pts) if v > 0]
        if not pts:
            continue
        path = " ".join(f"{px(w):.1f},{py(v):.1f}" for w, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for w, v in pts:
            out.append(f'<circle cx="{px(w):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}"/>')
    return out


def svg(summary):
    systems = ordered_systems(summary)
    writers = sorted({k[2] for k in summary})
    rooms = sorted({k[1] for k in summary})
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif" font-size="13">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
        "Chat on SQLite (durability full): CRUD vs event sourcing</text>",
    ]
    metrics = [("throughput", "acknowledged messages/s"), ("p99", "p99 send → delivery, ms")]
    for row, (metric, label) in enumerate(metrics):
        for col, r in enumerate(rooms[:2]):
            series = [
                (SYSTEMS.get(s, (s, "#555"))[1],
                 [(w, summary[(s, r, w)][metric]) for w in writers if (s, r, w) in summary])
                for s in systems
            ]
            title = ("one hot room" if r == 1 else f"{r} rooms") + (
                ": throughput" if metric == "throughput" else ": p99 latency")
            body += panel(LEFT + col * (PANEL_W + GAP_X), TOP + row * (PANEL_H + GAP_Y), title, label,
                          series, writers)
    ly = H - 20
    for i, s in enumerate(systems):
        label, colour = SYSTEMS.get(s, (s, "#555"))
        x = 30 + i * (W - 30) / max(len(systems), 1)
        body.append(f'<rect x="{x:.0f}" y="{ly - 10}" width="14" height="10" fill="{colour}"/>')
        body.append(f'<text x="{x + 20:.0f}" y="{ly}" font-size="12">{label}</text>')
    body.append("</svg>")
    return "\n".join(body) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--table")
    ap.add_argument("--svg")
    a = ap.parse_args()
    summary = summarise(load(a.results))
    if not summary:
        raise SystemExit("crud_vs_es_plot.py: no results in " + a.results)
    t = table(summary)
    if a.table:
        with open(a.table, "w") as f:
            f.write(t)
    else:
        print(t, end="")
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(svg(summary))


if __name__ == "__main__":
    main()
