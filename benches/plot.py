"""Plot a bench.py JSON result: median save time per dataset, numpy vs
fastnpz (2 threads and 1 thread), log scale, with the size ratio annotated.

    python benches/bench.py --json benches/results.json
    python benches/plot.py benches/results.json benches/bench.png   # needs matplotlib
"""

from __future__ import annotations

import json
import statistics
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(argv[0]) as f:
        data = json.load(f)
    rows = data["results"]
    names = [r["dataset"] for r in rows]
    series = [("numpy", "numpy.savez_compressed"), ("fastnpz", "fastnpz (2 threads)"), ("fastnpz_1t", "fastnpz (1 thread)")]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.27
    for k, (key, label) in enumerate(series):
        times = [statistics.median(r["times"][key]) for r in rows]
        ax.bar([i + (k - 1) * width for i in range(len(rows))], times, width, label=label)
    for i, r in enumerate(rows):
        ratio = statistics.median(r["sizes"]["fastnpz"]) / statistics.median(r["sizes"]["numpy"])
        t_np = statistics.median(r["times"]["numpy"])
        ax.annotate(f"size x{ratio:.3f}", (i, t_np), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)), names)
    ax.set_ylabel("median save time (s, log scale)")
    m = data["machine"]
    ax.set_title(f"numpy {m['numpy']} vs fastnpz {m['fastnpz']}, {m['cpus_usable']}-core {m['cpu_model']}, level 6")
    ax.legend()
    fig.tight_layout()
    fig.savefig(argv[1], dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
