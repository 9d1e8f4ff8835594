"""Plot a bench.py JSON result (needs matplotlib).

Three figures:

- BENCH.png: median save time per dataset, numpy vs fastnpz (default
  threads and 1 thread), log scale, with the size ratio annotated; one panel
  per suite (seeded, real-data, size classes);
- LOAD.png (load.png beside BENCH.png): the load speedup per dataset,
  numpy.load time / fastnpz.load time, on the archive numpy wrote and on the
  one fastnpz wrote. Skipped, with a note, when the JSON has no load rows;
- LEVELS.png: size against time per compression level, from the per-level
  rows that ``bench.py --levels`` writes. For each dataset, one line through
  levels 0-9 of fastnpz at (time relative to numpy, size relative to numpy);
  numpy's own call is the point (1, 1). Skipped, with a note, when the JSON
  has no per-level rows.

    python benches/bench.py --levels 0-9 --json benches/results.json
    python benches/plot.py                 # benches/results.json -> bench.png, load.png, levels.png
    python benches/plot.py RESULTS.json BENCH.png [LEVELS.png]

LEVELS.png defaults to levels.png in BENCH.png's directory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


SUITE_TITLES = {"seeded": "seeded suite", "real": "real-data suite", "classes": "size classes"}


def suite_rows(data):
    """Save rows per suite, in run order (rows without a suite are the seeded suite's)."""
    out = {}
    for r in data["results"]:
        if not r.get("error"):
            out.setdefault(r.get("suite", "seeded"), []).append(r)
    return out


def plot_times(data, out, plt):
    """Draw the per-dataset median save times of the default call into `out`, one panel per suite."""
    suites = suite_rows(data)
    m = data["machine"]
    threads = m.get("default_threads", 2)
    series = [
        ("numpy", "numpy.savez_compressed"),
        ("fastnpz", f"fastnpz ({threads} threads)"),
        ("fastnpz_1t", "fastnpz (1 thread)"),
    ]
    fig, axes = plt.subplots(
        len(suites), 1, figsize=(max(9, 0.75 * max(map(len, suites.values()))), 4.2 * len(suites)), squeeze=False
    )
    width = 0.27
    for ax, (suite, rows) in zip(axes[:, 0], suites.items(), strict=False):
        for k, (key, label) in enumerate(series):
            times = [statistics.median(r["times"][key]) for r in rows]
            ax.bar([i + (k - 1) * width for i in range(len(rows))], times, width, label=label)
        for i, r in enumerate(rows):
            ratio = statistics.median(r["sizes"]["fastnpz"]) / statistics.median(r["sizes"]["numpy"])
            t_np = statistics.median(r["times"]["numpy"])
            ax.annotate(f"x{ratio:.3f}", (i, t_np), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)), [r["dataset"] for r in rows], rotation=20 if len(rows) > 7 else 0, fontsize=8)
        ax.set_ylabel("median save time (s, log)")
        ax.set_title(f"{SUITE_TITLES.get(suite, suite)} (above each group: size ratio fastnpz / numpy)", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"numpy {m['numpy']} vs fastnpz {m['fastnpz']}, {m['cpus_usable']}-core {m['cpu_model']}, level 6"
        + (", quick datasets" if data.get("quick") else "")
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def load_speedups(data):
    """(dataset, numpy-written speedup, fastnpz-written speedup) per load row without an error."""
    rows = ((data.get("load") or {}).get("results")) or []
    return [
        (r["dataset"], r["numpy_getitem"]["speedup"], r["fastnpz_getitem"]["speedup"])
        for r in rows
        if not r.get("error") and "numpy_getitem" in r
    ]


def plot_load(data, points, out, plt):
    """Draw the load speedups (numpy.load time / fastnpz.load time) per dataset into `out`."""
    fig, ax = plt.subplots(figsize=(max(9, 0.8 * len(points)), 4.5))
    width = 0.4
    names, np_w, fz_w = zip(*points, strict=False)
    ax.bar([i - width / 2 for i in range(len(names))], np_w, width, label="archive written by numpy")
    ax.bar([i + width / 2 for i in range(len(names))], fz_w, width, label="archive written by fastnpz")
    ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("load speedup (t numpy.load / t fastnpz.load)")
    m = data["machine"]
    loader = (data.get("load") or {}).get("loader", "fastnpz.load")
    ax.set_title(
        f"{loader} vs numpy.load {m['numpy']}, every member read, {m['cpus_usable']}-core {m['cpu_model']}"
        + (", quick datasets" if data.get("quick") else ""),
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def level_curves(data):
    """Per-level points from a bench.py JSON result.

    Returns
    -------
    dict
        dataset -> list of (level, time relative to numpy, size ratio), by
        level; time relative to numpy is 1 / speedup. Rows whose output was
        wrong are left out. Empty if the JSON has no per-level rows.
    """
    curves = {}
    for r in (data.get("levels") or {}).get("results", []):
        if not r.get("error"):
            curves.setdefault(r["dataset"], []).append((r["level"], 1.0 / r["speedup"], r["size_ratio"]))
    return {name: sorted(points) for name, points in curves.items()}


def plot_levels(data, curves, out, plt):
    """Draw size against time per level into `out`, in two panels.

    The left panel shows every level with a log size axis (level 0 stores
    the data, so its size ratio can be several times numpy's). The right
    panel leaves level 0 out and fits the size axis to levels 1-9.
    """
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, 2, figsize=(14, 6.5), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, min_level in zip(axes, (0, 1), strict=False):
        ax.axhline(1.0, color="0.6", lw=0.8, ls="--", zorder=1)
        ax.axvline(1.0, color="0.6", lw=0.8, ls="--", zorder=1)
        for k, (name, all_points) in enumerate(curves.items()):
            points = [p for p in all_points if p[0] >= min_level]
            if not points:
                continue
            color = colors[k % len(colors)]
            _, xs, ys = zip(*points, strict=False)
            ax.plot(xs, ys, "-o", color=color, ms=4, lw=1.2, label=name, zorder=2)
            for level, x, y in points:
                ax.annotate(str(level), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7, color=color)
        ax.plot([1.0], [1.0], marker="*", ms=16, color="black", ls="none", label="numpy (zlib level 6)", zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel("time relative to numpy (t_fastnpz / t_numpy = 1/speedup, log scale)")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_formatter(plain)
    axes[0].yaxis.set_minor_formatter(plain)
    axes[0].xaxis.set_major_formatter(plain)
    axes[0].set_ylabel("size relative to numpy (fastnpz bytes / numpy bytes)")
    axes[0].set_title("all levels (log size axis)")
    axes[1].set_title("without level 0 (linear size axis)")
    axes[1].legend(fontsize=8, loc="best")
    m = data["machine"]
    fig.suptitle(
        f"fastnpz options(level=L), default threads, vs numpy.savez_compressed (level 6): "
        f"{m['cpus_usable']}-core {m['cpu_model']}" + (", quick datasets" if data.get("quick") else "")
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", default=os.path.join(HERE, "results.json"), help="bench.py --json output")
    p.add_argument("bench_png", nargs="?", default=os.path.join(HERE, "bench.png"), help="time plot to write")
    p.add_argument("levels_png", nargs="?", default=None, help="size-vs-time per level plot to write")
    opts = p.parse_args(argv)
    levels_png = opts.levels_png or os.path.join(os.path.dirname(os.path.abspath(opts.bench_png)), "levels.png")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(opts.results) as f:
        data = json.load(f)
    plot_times(data, opts.bench_png, plt)
    print(f"wrote {opts.bench_png}")
    load_png = os.path.join(os.path.dirname(os.path.abspath(opts.bench_png)), "load.png")
    points = load_speedups(data)
    if points:
        plot_load(data, points, load_png, plt)
        print(f"wrote {load_png}")
    else:
        print(f"{opts.results} has no load rows (fastnpz.load missing or --skip-load); skipped {load_png}")
    curves = level_curves(data)
    if not curves:
        print(f"{opts.results} has no per-level rows (run bench.py with --levels); skipped {levels_png}")
        return 0
    plot_levels(data, curves, levels_png, plt)
    print(f"wrote {levels_png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
