#!/usr/bin/env python3
"""Compare deflate engines on bench.py's datasets: raw deflate, one core.

Each array's bytes, in the order its .npy member stores them, are cut into
4 MiB chunks (the chunk size fastnpz uses) and every chunk is compressed on
its own as a raw deflate stream (wbits=-15), one after another on the calling
thread. For each dataset and engine/level the script reports the output size
and the speed relative to zlib level 6, which is what numpy.savez_compressed
runs.

Engines (bench-only packages, not fastnpz dependencies; a missing one is
skipped with a note):

    zlib        Python's zlib module, numpy's engine     levels 1, 6, 9
    isal        ISA-L, PyPI `isal` (isal.isal_zlib)      levels 0-3
    libdeflate  PyPI `deflate` (deflate_compress)        levels 1, 6, 9, 12
    zlib-ng     PyPI `zlib-ng` (zlib_ng.zlib_ng)         levels 1, 6, 9

Usage:
    pip install isal deflate zlib-ng      # optional engines
    python3 benches/engines.py [--quick] [--datasets a,b] [--repeats N]
                               [--markdown out.md]

See benches/README.md for the method and the columns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import textwrap
import time
import zlib
from importlib import metadata

import numpy as np
from bench import DATASETS, MiB, machine_info

#: Uncompressed bytes per chunk, as fastnpz's CHUNK_SIZE.
CHUNK = 4 << 20

#: The reference every ratio is taken against: numpy's engine and level.
REFERENCE = ("zlib", 6)


def zlib_api(module, level):
    """Return compress(chunk) -> raw deflate bytes for a module with zlib's API.

    Parameters
    ----------
    module
        ``zlib``, ``isal.isal_zlib`` or ``zlib_ng.zlib_ng``.
    level : int
        Compression level, passed to ``module.compressobj``.
    """

    def compress(chunk):
        c = module.compressobj(level, module.DEFLATED, -15)
        return c.compress(chunk) + c.flush()

    return compress


def load_engines():
    """Find the installed engines.

    Returns
    -------
    engines : list of (str, int, callable)
        (engine, level, compress) with ``compress(chunk) -> bytes`` producing
        raw deflate; zlib 6 is always present.
    versions : dict
        engine -> version string.
    notes : list of str
        One line per engine that is not installed.
    """
    engines = [("zlib", level, zlib_api(zlib, level)) for level in (1, 6, 9)]
    versions = {"zlib": f"zlib {zlib.ZLIB_RUNTIME_VERSION}"}
    notes = []
    try:
        from isal import isal_zlib
    except ImportError:
        notes.append("isal skipped: the PyPI package `isal` is not installed")
    else:
        engines += [("isal", level, zlib_api(isal_zlib, level)) for level in range(4)]
        versions["isal"] = f"isal {metadata.version('isal')}"
    try:
        import deflate
    except ImportError:
        notes.append("libdeflate skipped: the PyPI package `deflate` is not installed")
    else:

        def libdeflate(level):
            return lambda chunk: deflate.deflate_compress(chunk, level)

        engines += [("libdeflate", level, libdeflate(level)) for level in (1, 6, 9, 12)]
        versions["libdeflate"] = f"deflate {metadata.version('deflate')}"
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        notes.append("zlib-ng skipped: the PyPI package `zlib-ng` is not installed")
    else:
        engines += [("zlib-ng", level, zlib_api(zlib_ng, level)) for level in (1, 6, 9)]
        versions["zlib-ng"] = f"zlib-ng {metadata.version('zlib-ng')} (library {zlib_ng.ZLIBNG_VERSION})"
    return engines, versions, notes


def dataset_chunks(args, kwargs):
    """Cut a dataset's arrays into chunks.

    Returns
    -------
    chunks : list of memoryview
        Every array's bytes in .npy order (Fortran order for an array that is
        F- but not C-contiguous, else C order), cut into `CHUNK`-byte pieces;
        no chunk spans two arrays.
    firsts : list of int
        Index in `chunks` of each array's first chunk.
    """
    chunks, firsts = [], []
    for a in list(args) + list(kwargs.values()):
        a = np.asanyarray(a)
        fortran = a.flags.f_contiguous and not a.flags.c_contiguous
        flat = memoryview(np.ascontiguousarray(a.T if fortran else a).reshape(-1).view(np.uint8))
        if len(flat):
            firsts.append(len(chunks))
            chunks += [flat[i : i + CHUNK] for i in range(0, len(flat), CHUNK)]
    return chunks, firsts


def check_engine(name, level, compress, chunks, firsts):
    """Raise RuntimeError unless zlib inflates `compress`'s output back to the input.

    Checks the first chunk of every array, which is enough to catch a
    header, a wrong window setting or a broken binding.
    """
    for i in firsts:
        try:
            ok = zlib.decompress(compress(chunks[i]), -15) == chunks[i]
        except zlib.error as e:
            raise RuntimeError(f"{name} {level}: chunk {i} is not raw deflate ({e})") from None
        if not ok:
            raise RuntimeError(f"{name} {level}: chunk {i} does not inflate back to its input")


def measure_dataset(name, engines, repeats, quick, log):
    """Time every engine on one dataset.

    Each round runs every engine/level once over all chunks, in list order
    on even rounds and in reverse on odd ones; a speed ratio is taken within
    a round, so drift in machine load cancels out.

    Returns
    -------
    list of dict
        One row per engine/level: ``dataset``, ``engine``, ``level``,
        ``out_bytes``, ``raw_bytes``, ``mib_s``
        (raw MiB / median time), ``speed`` (median over rounds of
        t_zlib6 / t_engine) and ``size`` (out_bytes / zlib 6's out_bytes).
    """
    args, kwargs = DATASETS[name][0](16 if quick else 1)
    chunks, firsts = dataset_chunks(args, kwargs)
    raw = sum(len(c) for c in chunks)
    log(f"[{name}] {raw / MiB:.1f} MiB in {len(chunks)} chunks; rounds: {repeats}")
    for engine, level, compress in engines:
        check_engine(engine, level, compress, chunks, firsts)
    times = {(e, lv): [] for e, lv, _ in engines}
    out_bytes = {}
    for r in range(repeats):
        for engine, level, compress in engines if r % 2 == 0 else reversed(engines):
            t0 = time.perf_counter()
            total = sum(len(compress(c)) for c in chunks)
            times[engine, level].append(time.perf_counter() - t0)
            out_bytes[engine, level] = total
        log(f"  round {r + 1}/{repeats}: zlib 6 {times[REFERENCE][-1]:.3f}s")
    ref_times, ref_bytes = times[REFERENCE], out_bytes[REFERENCE]
    rows = []
    for engine, level, _ in engines:
        t = times[engine, level]
        rows.append(
            {
                "dataset": name,
                "engine": engine,
                "level": level,
                "raw_bytes": raw,
                "out_bytes": out_bytes[engine, level],
                "mib_s": raw / MiB / statistics.median(t),
                "speed": statistics.median(a / b for a, b in zip(ref_times, t, strict=False)),
                "size": out_bytes[engine, level] / ref_bytes,
            }
        )
    return rows


def geomean_rows(rows):
    """One row per engine/level: the geometric means of speed and size over the datasets."""
    groups = {}
    for r in rows:
        groups.setdefault((r["engine"], r["level"]), []).append(r)
    return [
        {
            "dataset": "geomean",
            "engine": engine,
            "level": level,
            "speed": statistics.geometric_mean(r["speed"] for r in group),
            "size": statistics.geometric_mean(r["size"] for r in group),
        }
        for (engine, level), group in groups.items()
    ]


HEADER = ["dataset", "engine", "level", "MiB/s", "speed vs zlib 6", "size vs zlib 6", "out/in"]


def table(rows, markdown):
    """Format `rows` as an aligned text table or a Markdown table."""
    header = HEADER
    cells = [
        [
            r["dataset"],
            r["engine"],
            str(r["level"]),
            f"{r['mib_s']:.1f}" if "mib_s" in r else "-",
            f"{r['speed']:.2f}x",
            f"{r['size']:.4f}",
            f"{r['out_bytes'] / r['raw_bytes']:.4f}" if "out_bytes" in r else "-",
        ]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|:---|:---|" + "---:|" * (len(header) - 2)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]

    def line(row):
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(c) for c in cells])


EXPLANATION = (
    "Each array's bytes are cut into 4 MiB chunks and each chunk is compressed on its own as raw deflate "
    "(wbits=-15) on one thread. speed vs zlib 6 = median over rounds of t_zlib6 / t_engine (above 1 is "
    "faster); size vs zlib 6 = engine output bytes / zlib 6 output bytes (below 1 is smaller); "
    "out/in = output bytes / input bytes; MiB/s = input MiB / median time; geomean = geometric mean "
    "over the datasets."
)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="datasets about 16x smaller")
    p.add_argument("--datasets", default=None, help="comma-separated subset of: " + ",".join(DATASETS))
    p.add_argument("--repeats", type=int, default=None, help="timing rounds per dataset (default: 3 quick, 1 full)")
    p.add_argument("--markdown", default=None, metavar="OUT.md", help="also write a Markdown report")
    return p.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    names = [n.strip() for n in opts.datasets.split(",") if n.strip()] if opts.datasets else list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        print(f"error: unknown dataset(s) {unknown}; choose from {list(DATASETS)}", file=sys.stderr)
        return 2
    repeats = opts.repeats or (3 if opts.quick else 1)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    engines, versions, notes = load_engines()
    info = machine_info("n/a")
    header = [
        f"CPU: {info['cpus_usable']} usable of {info['cpu_count']}, {info['cpu_model']}; one thread used",
        f"Python {info['python']}, numpy {info['numpy']}; engines: {', '.join(versions.values())}",
        f"Load average at start: {info['loadavg_start']}",
        f"Mode: {'quick (datasets / 16)' if opts.quick else 'full'}; rounds per dataset: {repeats}",
    ] + notes
    print("deflate engines on the fastnpz benchmark datasets, relative to zlib level 6 (numpy)")
    print("\n".join("  " + h for h in header) + "\n", flush=True)

    t_start = time.perf_counter()
    rows = []
    for name in names:
        try:
            rows += measure_dataset(name, engines, repeats, opts.quick, log)
        except RuntimeError as e:
            print(f"error: [{name}] {e}", file=sys.stderr)
            return 1
    if len(names) > 1:
        rows += geomean_rows(rows)
    elapsed = time.perf_counter() - t_start

    print(table(rows, markdown=False))
    print()
    print(textwrap.fill(EXPLANATION, 100))
    print(f"total time: {elapsed:.0f}s; load average at end: {[round(x, 2) for x in os.getloadavg()]}")
    if opts.markdown:
        md = ["# Deflate engines", ""] + [f"- {h}" for h in header] + ["", table(rows, markdown=True), "", EXPLANATION]
        with open(opts.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
