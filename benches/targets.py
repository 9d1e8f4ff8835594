"""The benchmark's targets (``bench.py --check``).

Timing thresholds live here only, never in the unit tests. Each target is
reported as met, missed, or not measured (a dataset that was not run, a
skipped suite, a missing ``fastnpz.load``); under ``--check`` only "met"
passes.
"""

from __future__ import annotations

from report import median_of

# Issue 15 (save policy) and 16 (load): their "Done when" figures.
SEEDED_MEDIAN = 8.0
SEEDED_MIN = 4.0
REAL_MEDIAN = 4.0
REAL_MIN = 2.0
# fastnpz.options(threads=1) against numpy, every dataset of every suite.
ONE_THREAD_MIN = 1.0
MAX_SIZE_RATIO = 1.01
MEM_SLACK_MIB = 32.0
THREAD_SCALING = 1.8
LOAD_NP_MEDIAN = 2.0
LOAD_NP_MIN = 1.7
LOAD_MANY_SMALL = 8.0
LOAD_FZ_MEDIAN = 3.5
LOAD_FZ_LARGE_MIN = 2.8
LOAD_EXTRA_MIB = 32.0


class Targets:
    """Collects (target, status, detail) with status "pass", "FAIL" or "NOT MEASURED"."""

    def __init__(self):
        self.items = []

    def add(self, target, ok, detail=""):
        status = "NOT MEASURED" if ok is None else ("pass" if ok else "FAIL")
        self.items.append({"target": target, "status": status, "detail": detail})

    def at_least(self, target, value, floor, what):
        if value is None:
            self.add(target, None, f"{what}: not measured")
        else:
            self.add(target, value >= floor, f"{what}: {value:.2f}x (>= {floor}x)")

    @property
    def failures(self):
        return [i for i in self.items if i["status"] != "pass"]

    def summary(self):
        """One line per target, in order: its worst status, then what missed it.

        Returns
        -------
        list of str
        """
        order = {"FAIL": 0, "NOT MEASURED": 1, "pass": 2}
        groups = {}
        for i in self.items:
            groups.setdefault(i["target"], []).append(i)
        lines = []
        for target, items in groups.items():
            worst = min((i["status"] for i in items), key=order.__getitem__)
            bad = [i["detail"] for i in items if i["status"] != "pass"]
            if worst == "pass":
                detail = items[0]["detail"] if len(items) == 1 else f"{len(items)}/{len(items)} met"
            else:
                detail = "; ".join(bad)
            lines.append(f"{worst:>12s}  {target}: {detail}")
        return lines


def _each(t, target, rows, key, floor, label="speedup"):
    """One target per row: ``rows[key] >= floor``."""
    for r in rows:
        if r.get("error"):
            t.add(target, False, f"{r['dataset']}: output is wrong: {r['error']}")
        else:
            t.at_least(target, r.get(key), floor, f"{r['dataset']} {label}")


def check_save(t, rows_by_suite, threads, expected):
    """Save targets over the suites' default-call rows.

    Parameters
    ----------
    t : Targets
    rows_by_suite : dict
        suite -> list of save rows.
    threads : int
        The default call's thread count (the scaling target needs 2 or more).
    expected : dict
        suite -> reason it was not run (skipped suites).
    """
    for suite, floor_med, floor_min in (("seeded", SEEDED_MEDIAN, SEEDED_MIN), ("real", REAL_MEDIAN, REAL_MIN)):
        rows = rows_by_suite.get(suite)
        if not rows:
            t.add(f"save {suite}: median >= {floor_med}x", None, expected.get(suite, "suite not run"))
            continue
        t.at_least(
            f"save {suite}: median >= {floor_med}x",
            median_of(rows, "speedup"),
            floor_med,
            f"median over {len(rows)} datasets",
        )
        _each(t, f"save {suite}: every dataset >= {floor_min}x", rows, "speedup", floor_min)
    for suite, rows in rows_by_suite.items():
        _each(
            t,
            f"save threads=1: every dataset >= {ONE_THREAD_MIN}x ({suite})",
            rows,
            "speedup_1t",
            ONE_THREAD_MIN,
            label="1T speedup",
        )
        for r in rows:
            if r.get("error"):
                continue
            t.add(
                f"size ratio <= {MAX_SIZE_RATIO} ({suite})",
                r["size_ratio"] <= MAX_SIZE_RATIO,
                f"{r['dataset']}: {r['size_ratio']:.4f}",
            )
            if suite == "classes":
                continue  # the size classes are timed, not memory-profiled
            np_peak, fz_peak = r.get("numpy_peak_mib"), r.get("fastnpz_peak_mib")
            target = f"save peak extra RSS <= numpy's + {MEM_SLACK_MIB:.0f} MiB ({suite})"
            if np_peak is None or fz_peak is None:
                t.add(target, None, f"{r['dataset']}: not measured (--skip-memory?)")
            else:
                t.add(
                    target,
                    fz_peak <= np_peak + MEM_SLACK_MIB,
                    f"{r['dataset']}: {fz_peak:.1f} vs numpy's {np_peak:.1f} MiB",
                )
            if r.get("single_large_member") and threads >= 2:
                t.at_least(
                    f"save thread scaling 1T->{threads}T >= {THREAD_SCALING}x (single large member)",
                    r.get("thread_scaling"),
                    THREAD_SCALING,
                    r["dataset"],
                )
    if threads < 2:
        t.add(
            f"save thread scaling 1T->2T >= {THREAD_SCALING}x (single large member)",
            None,
            f"the default call uses {threads} thread",
        )
    for r in rows_by_suite.get("classes", []):
        if threads >= 2 and not r.get("error"):
            t.at_least(
                f"save thread scaling 1T->{threads}T >= {THREAD_SCALING}x (single large member)",
                r.get("thread_scaling"),
                THREAD_SCALING,
                r["dataset"],
            )


def check_load(t, rows, skipped_reason):
    """Load targets over the flattened load rows (see `report.flatten_load`)."""
    if skipped_reason:
        for target in (
            f"load numpy-written: median >= {LOAD_NP_MEDIAN}x",
            f"load fastnpz-written: median >= {LOAD_FZ_MEDIAN}x",
            f"load peak extra anon memory <= {LOAD_EXTRA_MIB:.0f} MiB",
        ):
            t.add(target, None, skipped_reason)
        return
    n = sum(1 for r in rows if not r.get("error"))
    t.at_least(
        f"load numpy-written: median >= {LOAD_NP_MEDIAN}x",
        median_of(rows, "np_speedup"),
        LOAD_NP_MEDIAN,
        f"median over {n} datasets",
    )
    _each(t, f"load numpy-written: every dataset >= {LOAD_NP_MIN}x", rows, "np_speedup", LOAD_NP_MIN)
    many_small = [r for r in rows if r["dataset"] == "many_small"]
    if many_small:
        _each(t, f"load numpy-written: many_small >= {LOAD_MANY_SMALL}x", many_small, "np_speedup", LOAD_MANY_SMALL)
    else:
        t.add(f"load numpy-written: many_small >= {LOAD_MANY_SMALL}x", None, "many_small not run")
    t.at_least(
        f"load fastnpz-written: median >= {LOAD_FZ_MEDIAN}x",
        median_of(rows, "fz_speedup"),
        LOAD_FZ_MEDIAN,
        f"median over {n} datasets",
    )
    _each(
        t,
        f"load fastnpz-written: every large dataset >= {LOAD_FZ_LARGE_MIN}x",
        [r for r in rows if r.get("large")],
        "fz_speedup",
        LOAD_FZ_LARGE_MIN,
    )
    for r in rows:
        if r.get("error"):
            continue
        for key, what in (("np_extra_anon_mib", "numpy-written"), ("fz_extra_anon_mib", "fastnpz-written")):
            v = r.get(key)
            target = f"load peak extra anon memory <= {LOAD_EXTRA_MIB:.0f} MiB"
            if v is None:
                t.add(target, None, f"{r['dataset']} {what}: not measured (--skip-memory?)")
            else:
                t.add(target, v <= LOAD_EXTRA_MIB, f"{r['dataset']} {what}: {v:.1f} MiB")
