"""Tables for bench.py: columns, cell formatting, text and Markdown output."""

from __future__ import annotations

import statistics


def save_columns(threads):
    """Columns of a suite's save table; `threads` is the default call's thread count."""
    return [
        ("dataset", "dataset"),
        ("raw_mib", "size (MiB)"),
        ("n_arrays", "arrays"),
        ("numpy_s", "numpy (s)"),
        ("fastnpz_s", "fastnpz (s)"),
        ("speedup", "speedup"),
        ("speedup_1t", "speedup 1T"),
        ("thread_scaling", f"1T->{threads}T"),
        ("size_ratio", "size ratio"),
        ("numpy_peak_mib", "numpy peak (MiB)"),
        ("fastnpz_peak_mib", "fastnpz peak (MiB)"),
    ]


DETAIL_COLUMNS = [
    ("dataset", "dataset"),
    ("n_arrays", "arrays"),
    ("repeats", "rounds"),
    ("numpy_bytes", "numpy out (B)"),
    ("fastnpz_bytes", "fastnpz out (B)"),
    ("fastnpz_1t_bytes", "fastnpz 1T out (B)"),
    ("speedup_range", "speedup min..max"),
    ("fastnpz_1t_s", "fastnpz 1T (s)"),
    ("fastnpz_cpu_per_wall", "fastnpz CPU/wall"),
]

LEVEL_COLUMNS = [
    ("dataset", "dataset"),
    ("level", "level"),
    ("repeats", "rounds"),
    ("numpy_s", "numpy (s)"),
    ("fastnpz_s", "fastnpz (s)"),
    ("speedup", "speedup"),
    ("speedup_range", "speedup min..max"),
    ("size_ratio", "size ratio"),
    ("fastnpz_bytes", "fastnpz out (B)"),
    ("fastnpz_peak_mib", "fastnpz peak (MiB)"),
]

CLASS_COLUMNS = [
    ("kind", "kind"),
    ("dtype", "dtype"),
    ("dataset", "dataset"),
    ("raw_mib", "size (MiB)"),
    ("numpy_ratio", "numpy out/in"),
    ("size_ratio", "size ratio"),
    ("speedup", "speedup"),
    ("thread_scaling", "1T->NT"),
]

LOAD_COLUMNS = [
    ("dataset", "dataset"),
    ("suite", "suite"),
    ("raw_mib", "size (MiB)"),
    ("n_arrays", "arrays"),
    ("np_numpy_s", "np-written: numpy (s)"),
    ("np_fastnpz_s", "fastnpz (s)"),
    ("np_speedup", "speedup"),
    ("items_speedup", "items() speedup"),
    ("fz_numpy_s", "fastnpz-written: numpy (s)"),
    ("fz_fastnpz_s", "fastnpz (s)"),
    ("fz_speedup", "speedup"),
    ("numpy_extra_anon_mib", "numpy extra (MiB)"),
    ("np_extra_anon_mib", "fastnpz extra, np-written (MiB)"),
    ("fz_extra_anon_mib", "fastnpz extra, fz-written (MiB)"),
]

LOAD_DETAIL_COLUMNS = [
    ("dataset", "dataset"),
    ("repeats", "rounds"),
    ("np_archive_bytes", "np-written (B)"),
    ("fz_archive_bytes", "fastnpz-written (B)"),
    ("np_speedup_range", "np-written min..max"),
    ("fz_speedup_range", "fastnpz-written min..max"),
    ("items_speedup_range", "items() min..max"),
    ("np_extra_rss_mib", "fastnpz extra RSS incl. mapped (MiB)"),
]


def flatten_load(row):
    """The flat cells of a load row (see `LOAD_COLUMNS`) from its nested results."""
    out = {k: row.get(k) for k in ("dataset", "suite", "raw_mib", "n_arrays", "repeats", "error")}
    for short, key in (("np", "numpy_getitem"), ("fz", "fastnpz_getitem"), ("items", "numpy_items")):
        res = row.get(key) or {}
        out[f"{short}_numpy_s"] = res.get("numpy_s")
        out[f"{short}_fastnpz_s"] = res.get("fastnpz_s")
        out[f"{short}_speedup"] = res.get("speedup")
        out[f"{short}_speedup_range"] = res.get("speedup_range")
    sizes = row.get("archive_bytes") or {}
    out["np_archive_bytes"] = sizes.get("numpy")
    out["fz_archive_bytes"] = sizes.get("fastnpz")
    mem = row.get("memory") or {}
    for short, key in (("numpy", "numpy@numpy"), ("np", "fastnpz@numpy"), ("fz", "fastnpz@fastnpz")):
        m = mem.get(key) or {}
        out[f"{short}_extra_anon_mib"] = m.get("extra_anon_mib")
        out[f"{short}_extra_rss_mib"] = m.get("extra_rss_mib")
    return out


def class_rows(results, real_kinds):
    """Rows of the size-classes table: every size class, then the real-data kinds.

    Parameters
    ----------
    results : list of dict
        Save rows of all suites.
    real_kinds : dict
        real dataset name -> (kind, dtype label) for the real rows to show.
    """
    rows = []
    by_name = {r["dataset"]: r for r in results}
    for r in results:
        if r.get("suite") == "classes":
            rows.append(dict(r, kind=r["kind"], dtype=r["dtype"]))
    for name, (kind, dtype) in real_kinds.items():
        if name in by_name:
            rows.append(dict(by_name[name], kind=kind + " (real)", dtype=dtype))
    for r in rows:
        if r.get("numpy_bytes") and r.get("raw_bytes"):
            r["numpy_ratio"] = r["numpy_bytes"] / r["raw_bytes"]
    return rows


def _fmt(key, v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if key == "raw_mib":
        return f"{v:.1f}"
    if key.endswith("_s"):
        return f"{v:.3f}"
    if "speedup" in key or key == "thread_scaling":
        return f"{v:.2f}x"
    if key == "fastnpz_cpu_per_wall":
        return f"{v:.2f}"
    if key in ("size_ratio", "numpy_ratio"):
        return f"{v:.4f}"
    if key.endswith("_mib"):
        return f"{v:.1f}"
    if key.endswith("_bytes"):
        return f"{v:,}"
    return str(v)


KEEP_ON_ERROR = ("dataset", "level", "raw_mib", "n_arrays", "kind", "dtype", "suite")


def row_cells(res, columns):
    cells = []
    for key, _ in columns:
        if res.get("error") and key not in KEEP_ON_ERROR:
            cells.append("WRONG" if key in ("speedup", "np_speedup", "repeats") else "-")
        else:
            cells.append(_fmt(key, res.get(key)))
    return cells


def text_table(results, columns):
    header = [h for _, h in columns]
    rows = [row_cells(r, columns) for r in results]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def markdown_table(results, columns):
    header = [h for _, h in columns]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    for r in results:
        out.append("| " + " | ".join(row_cells(r, columns)) + " |")
    return "\n".join(out)


def median_of(rows, key):
    """Median of `key` over the rows without an error that have it (None if none)."""
    vals = [r[key] for r in rows if not r.get("error") and r.get(key) is not None]
    return statistics.median(vals) if vals else None
