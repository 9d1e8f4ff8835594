"""Print the README's benchmark tables from one run's results.json.

Usage:
    python3 benches/readme.py [benches/results.json]

The README shows a compact view of one run (benches/results.md has every
column): the medians, one save table per suite, the size classes, loading,
the per-level matrix and the targets. Paste the output over the tables in
the README's Benchmark section, so every figure there comes from one run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import report

CLASSES = [
    ("kind", "kind"),
    ("dtype", "dtype"),
    ("dataset", "dataset"),
    ("numpy_ratio", "numpy out/in"),
    ("size_ratio", "size ratio"),
    ("speedup", "speedup"),
    ("thread_scaling", "1T->2T"),
]

LOAD = [
    ("dataset", "dataset"),
    ("raw_mib", "size (MiB)"),
    ("n_arrays", "arrays"),
    ("np_speedup", "numpy-written"),
    ("items_speedup", "numpy-written, items()"),
    ("fz_speedup", "fastnpz-written"),
    ("numpy_extra_anon_mib", "numpy extra (MiB)"),
    ("np_extra_anon_mib", "fastnpz extra, numpy-written (MiB)"),
    ("fz_extra_anon_mib", "fastnpz extra, fastnpz-written (MiB)"),
]


def level_matrix(levels):
    """Speedup / size ratio per dataset and level, against numpy's default call."""
    rows = levels.get("results") or []
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    order = sorted({r["level"] for r in rows})
    cell = {(r["dataset"], r["level"]): r for r in rows}
    out = [
        "| dataset | " + " | ".join(f"level {lv}" for lv in order) + " |",
        "|:---|" + "---:|" * len(order),
    ]
    for name in names:
        cells = []
        for lv in order:
            r = cell.get((name, lv))
            if r is None or r.get("error") or r.get("speedup") is None:
                cells.append("-")
            else:
                cells.append(f"{r['speedup']:.1f}x / {r['size_ratio']:.3f}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def grouped_targets(targets):
    """One line per target: met by every dataset, or the datasets that miss it."""
    groups = {}
    for t in targets:
        groups.setdefault(t["target"], []).append(t)
    for name, lines in groups.items():
        missed = [t["detail"] for t in lines if t["status"] != "pass"]
        if len(lines) == 1:
            yield name, lines[0]["status"], lines[0]["detail"]
        elif missed:
            yield name, "FAIL", f"{len(lines) - len(missed)}/{len(lines)} met; " + "; ".join(missed)
        else:
            yield name, "pass", f"{len(lines)}/{len(lines)} met"


def main(path):
    data = json.loads(Path(path).read_text())
    results = data["results"]
    out = ["Medians:", ""]
    out += [f"- {line}" for line in data.get("summary", [])]
    for suite, title in (("seeded", "Saving, seeded suite"), ("real", "Saving, real-data suite")):
        rows = [r for r in results if r.get("suite") == suite]
        if rows:
            columns = report.save_columns(data["machine"].get("cpus_usable") or 2)
            out += ["", f"**{title}**", "", report.markdown_table(rows, columns)]
    if data.get("size_classes"):
        out += ["", "**Size classes** (saving; the real-data kinds last)", ""]
        out.append(report.markdown_table(data["size_classes"], CLASSES))
    load = [report.flatten_load(r) for r in (data.get("load") or {}).get("results") or []]
    if load:
        out += ["", "**Loading** (speedup against `np.load`, every member read)", ""]
        out.append(report.markdown_table(load, LOAD))
    if data.get("levels"):
        out += ["", "**Per level** (speedup / size ratio against numpy's default call)", ""]
        out.append(level_matrix(data["levels"]))
    if data.get("targets"):
        out += ["", "**Targets**", "", "| target | status | detail |", "|:---|:---|:---|"]
        out += [f"| {name} | {status} | {detail} |" for name, status, detail in grouped_targets(data["targets"])]
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results.json"))
