"""The load benchmark: ``fastnpz.load`` against ``numpy.load``.

For each dataset, the archive is written once by numpy and once by fastnpz;
then every member of each archive is read back by both loaders, in paired
rounds whose order alternates, and the loaded arrays are compared.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from procmem import AnonSampler, reset_hwm, status_kib

#: How a variant reads the archive: the style names the mapping access used.
STYLES = {
    "getitem": "with load(path) as f: {k: f[k] for k in f}",
    "items": "with load(path) as f: dict(f.items())",
}

#: The timed variants: (which writer made the archive, access style).
VARIANTS = [("numpy", "getitem"), ("fastnpz", "getitem"), ("numpy", "items")]


def read_all(load, path, style="getitem"):
    """Read every member of the archive at `path` with `load` (numpy.load's signature).

    Returns
    -------
    dict
        name -> array, in the archive's order.
    """
    with load(path) as f:
        if style == "getitem":
            return {k: f[k] for k in f}
        if style == "items":
            return dict(f.items())
    raise ValueError(f"unknown style {style!r}")


def _same_bytes(a, b, chunk=16 << 20):
    """Byte equality of two same-shape, same-dtype arrays, 16 MiB at a time."""
    if a.dtype.itemsize == 0 or a.size == 0:
        return True
    x = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    y = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    return all(np.array_equal(x[i : i + chunk], y[i : i + chunk]) for i in range(0, len(x), chunk))


def compare_loaded(ref, got):
    """Problems in `got` (fastnpz's result) against `ref` (numpy's); empty if none.

    Both must have the same names in the same order, and each array the same
    type, dtype, shape, memory order (Fortran or C) and bytes.
    """
    problems = []
    if list(ref) != list(got):
        return [f"names differ: {list(got)[:4]} ... vs numpy's {list(ref)[:4]} ... ({len(got)} vs {len(ref)})"]
    for k, a in ref.items():
        b = got[k]
        if type(b) is not type(a):
            problems.append(f"{k}: type {type(b).__name__} != numpy's {type(a).__name__}")
        elif b.dtype != a.dtype or b.shape != a.shape:
            problems.append(f"{k}: {b.dtype}{b.shape} != numpy's {a.dtype}{a.shape}")
        elif (b.flags.f_contiguous and not b.flags.c_contiguous) != (a.flags.f_contiguous and not a.flags.c_contiguous):
            problems.append(f"{k}: memory order differs from numpy's")
        elif not _same_bytes(a, b):
            problems.append(f"{k}: contents differ")
        if len(problems) >= 5:
            problems.append("... (stopping after 5 problems)")
            break
    return problems


def time_load_variant(path, style, loaders, repeats, log, label):
    """Time `loaders` reading the archive at `path`, in alternating pairs.

    One untimed read by each loader comes first: it warms the page cache and
    lazy imports, and its results are compared (fastnpz's against numpy's).

    Returns
    -------
    dict
        ``times`` per loader, per-round ``ratios`` t_numpy / t_fastnpz, their
        median ``speedup`` and range, median times, ``loaded_bytes``, and
        ``error`` if fastnpz's result differs or it raised.
    """
    ref = read_all(loaders["numpy"], path, style)
    loaded_bytes = sum(a.nbytes for a in ref.values())
    try:
        got = read_all(loaders["fastnpz"], path, style)
    except Exception as e:  # noqa: BLE001 - reported as the row's error
        return {"error": f"fastnpz raised {type(e).__name__}: {e}", "loaded_bytes": loaded_bytes}
    problems = compare_loaded(ref, got)
    del ref, got
    if problems:
        return {"error": "; ".join(problems), "loaded_bytes": loaded_bytes}
    times = {k: [] for k in loaders}
    for r in range(repeats):
        for impl in list(loaders) if r % 2 == 0 else list(reversed(loaders)):
            gc.collect()
            t0 = time.perf_counter()
            arrays = read_all(loaders[impl], path, style)
            times[impl].append(time.perf_counter() - t0)
            del arrays
        log(f"{label} round {r + 1}/{repeats}: " + "  ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    ratios = [a / b for a, b in zip(times["numpy"], times["fastnpz"], strict=False)]
    return {
        "times": times,
        "ratios": ratios,
        "numpy_s": statistics.median(times["numpy"]),
        "fastnpz_s": statistics.median(times["fastnpz"]),
        "speedup": statistics.median(ratios),
        "speedup_range": f"{min(ratios):.2f}..{max(ratios):.2f}x",
        "loaded_bytes": loaded_bytes,
    }


def bench_load(row, archives, loaders, repeats, log):
    """Run every variant of `VARIANTS` for one dataset and fill in `row`.

    Parameters
    ----------
    row : dict
        The dataset's load row; gets ``<writer>_<style>`` sub-dicts, the
        archive sizes and, on a mismatch, ``error``.
    archives : dict
        writer ("numpy" or "fastnpz") -> path of the archive it wrote.
    loaders : dict
        "numpy" and "fastnpz" -> a function with numpy.load's signature.
    """
    for writer, style in VARIANTS:
        key = f"{writer}_{style}"
        res = time_load_variant(
            archives[writer], style, loaders, repeats, log, f"[{row['dataset']}][load {writer}-written, {style}]"
        )
        row[key] = res
        if res.get("error"):
            row["error"] = f"{key}: {res['error']}"
            log(f"[{row['dataset']}] LOAD CORRECTNESS FAILURE: {row['error']}")
            return
    row["archive_bytes"] = {w: os.path.getsize(p) for w, p in archives.items()}
    log(
        f"[{row['dataset']}] load speedup: numpy-written {row['numpy_getitem']['speedup']:.2f}x, "
        f"fastnpz-written {row['fastnpz_getitem']['speedup']:.2f}x, items() {row['numpy_items']['speedup']:.2f}x"
    )


# ----------------------------------------------------------------------------
# Peak memory of one load, in a fresh subprocess
# ----------------------------------------------------------------------------


def mem_worker(load, path, tiny_path):
    """Child side: load `path` once while the parent samples this process's RssAnon.

    Protocol on stdin/stdout: print ``READY {baseline}``, wait for a line,
    load, print ``MEMRESULT {json}``, wait for a line (the arrays stay alive
    until the parent has stopped sampling), exit.
    """
    read_all(load, tiny_path)  # lazy imports and first-use setup are not counted
    gc.collect()
    gc.disable()
    base = {"anon_kib": status_kib("RssAnon"), "rss_kib": status_kib("VmRSS"), "hwm_reset": reset_hwm()}
    print("READY " + json.dumps(base), flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    arrays = read_all(load, path)
    dt = time.perf_counter() - t0
    loaded = sum(a.nbytes for a in arrays.values())
    out = dict(base, loaded_bytes=loaded, time_s=dt, end_anon_kib=status_kib("RssAnon"), hwm_kib=status_kib("VmHWM"))
    print("MEMRESULT " + json.dumps(out), flush=True)
    sys.stdin.readline()
    del arrays


def _read_until(stream, prefix):
    """The first line of `stream` starting with `prefix` (other output is skipped); "" at EOF."""
    for line in stream:
        if line.startswith(prefix):
            return line
    return ""


def measure(cmd):
    """Parent side: run a `mem_worker` command line and sample its RssAnon.

    Returns
    -------
    dict
        The worker's result plus ``peak_anon_kib`` (the highest RssAnon seen
        by the sampler or by the worker after the load), ``samples``, and
        ``extra_anon_mib`` = (peak RssAnon - RssAnon before the load -
        bytes of the loaded arrays), in MiB. With a working VmHWM reset also
        ``extra_rss_mib``, the same from VmHWM and VmRSS: it counts file
        pages the loader maps as well.
    """
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            if not _read_until(proc.stdout, "READY "):
                raise RuntimeError("worker did not start")
            with AnonSampler(proc.pid) as sampler:
                proc.stdin.write("go\n")
                proc.stdin.flush()
                line = _read_until(proc.stdout, "MEMRESULT ")
            if not line:
                raise RuntimeError("worker did not report")
            proc.stdin.write("exit\n")
            proc.stdin.flush()
            proc.wait(timeout=600)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            proc.kill()
            proc.wait()
            err.seek(0)
            raise RuntimeError(f"{e} (rc={proc.returncode}):\n{err.read()[-2000:]}") from None
    m = json.loads(line[len("MEMRESULT ") :])
    loaded_kib = m["loaded_bytes"] / 1024
    m["samples"] = sampler.samples
    m["peak_anon_kib"] = max(sampler.peak_kib, m["end_anon_kib"])
    m["extra_anon_mib"] = (m["peak_anon_kib"] - m["anon_kib"] - loaded_kib) / 1024
    if m["hwm_reset"]:
        m["extra_rss_mib"] = (m["hwm_kib"] - m["rss_kib"] - loaded_kib) / 1024
    return m
