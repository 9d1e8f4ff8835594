#!/usr/bin/env python3
"""Benchmark fastnpz against numpy: saving and loading .npz archives.

Usage:
    python3 benches/bench.py [--quick] [--suites seeded,real,classes]
                             [--datasets a,b] [--repeats N]
                             [--levels SPEC] [--level-repeats N]
                             [--skip-load] [--skip-memory] [--no-install]
                             [--markdown out.md] [--json out.json] [--check]

Three suites: `seeded` (six generated datasets), `real` (arrays from
public packages, fetched with pip download into $FASTNPZ_BENCH_CACHE) and
`classes` (one array per kind of data people store). Every dataset of every
suite is saved by numpy.savez_compressed and fastnpz.savez_compressed; the
seeded and real datasets are then loaded back by numpy.load and
fastnpz.load. See benches/README.md for what each column means.

FASTNPZ_BENCH_FAKE=1 runs the "fastnpz" side with numpy's own functions,
which tests the harness without a build (every ratio should then come out
near 1.0); FASTNPZ_BENCH_FAKE=load fakes only fastnpz.load, with np.load.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import classes
import loadbench
import numpy as np
import realdata
import report
import targets
from procmem import reset_hwm, status_kib

MiB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))

# ----------------------------------------------------------------------------
# Implementations
# ----------------------------------------------------------------------------

FAKE_MODE = os.environ.get("FASTNPZ_BENCH_FAKE", "")
FAKE = FAKE_MODE not in ("", "0", "load")
FAKE_LOAD = FAKE or FAKE_MODE == "load"


FAST_BUILD = "n/a"


def _describe_build(mod):
    """Where the imported extension lives and when it was built.

    This shows which build a report measured while the code is still changing.
    """
    try:
        ext = getattr(mod, "_fastnpz", None)
        path = getattr(ext, "__file__", None) or mod.__file__
        mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(path)))
        return f"{path} (built {mtime})"
    except Exception:  # noqa: BLE001
        return "unknown"


def load_fastnpz():
    """Return (savez_compressed, options, version_string) for the fastnpz side."""
    if FAKE:

        @contextlib.contextmanager
        def options(level=None, threads=None):
            yield

        return np.savez_compressed, options, "FAKE (numpy.savez_compressed)"
    import fastnpz

    global FAST_BUILD
    FAST_BUILD = _describe_build(fastnpz)
    version = getattr(fastnpz, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as _v

            version = _v("fastnpz")
        except Exception:  # noqa: BLE001
            version = "unknown"
    return fastnpz.savez_compressed, fastnpz.options, str(version)


def fastnpz_load():
    """Return (load function or None, description) for the fastnpz side of loading.

    None when the installed fastnpz has no ``load`` yet: the load benchmark
    is then skipped, with the description saying why.
    """
    if FAKE_LOAD:
        return np.load, "FAKE (numpy.load)"
    import fastnpz

    fn = getattr(fastnpz, "load", None)
    if fn is None:
        return None, f"fastnpz {getattr(fastnpz, '__version__', '?')} has no load()"
    return fn, "fastnpz.load"


def default_threads():
    """The thread count of fastnpz's default call (1 when it is faked)."""
    if FAKE:
        return 1
    import fastnpz

    return int(fastnpz.get_options()["threads"])


# ----------------------------------------------------------------------------
# Datasets. Each generator takes `scale` (1 for full, 16 for --quick) and
# returns (args, kwargs) for savez_compressed(file, *args, **kwargs).
# Everything comes from numpy.random.default_rng(seed), so the data is the same
# on every run and in every subprocess.
# ----------------------------------------------------------------------------


def _rng(seed):
    return np.random.default_rng(seed)


def gen_random_f64(scale):
    rng = _rng(1)
    # 128 MiB = 4096 x 4096 float64; scaled on the first axis.
    a = rng.standard_normal((4096 // scale, 4096))
    return (), {"random_f64": a}


def gen_smooth_f32(scale):
    """A smooth 2-D float32 field, like a simulation or sensor output.

    It is a sum of a few low-frequency separable sine/cosine modes plus small
    noise. The values are then cut to 12 explicit mantissa bits, about 3.6
    significant decimal digits, as with instrument or float16-derived data.
    This makes it compress moderately.
    """
    rng = _rng(2)
    ny, nx = 4096 // scale, 8192
    y = np.linspace(0.0, 1.0, ny, dtype=np.float32)
    x = np.linspace(0.0, 1.0, nx, dtype=np.float32)
    out = np.zeros((ny, nx), dtype=np.float32)
    for _ in range(4):
        fy, fx = rng.uniform(0.5, 4.0, size=2).astype(np.float32)
        py, px = rng.uniform(0, 2 * np.pi, size=2).astype(np.float32)
        amp = np.float32(rng.uniform(0.5, 2.0))
        sy = (amp * np.sin(np.float32(2 * np.pi) * fy * y + py)).astype(np.float32)
        cx = np.cos(np.float32(2 * np.pi) * fx * x + px).astype(np.float32)
        out += sy[:, None] * cx[None, :]
    out += np.float32(10.0)  # offset, as physical quantities usually have one
    # Add the noise in row blocks to avoid one large float32 temporary.
    step = max(1, ny // 16)
    for r in range(0, ny, step):
        blk = out[r : r + step]
        blk += rng.standard_normal(blk.shape, dtype=np.float32) * np.float32(0.01)
    # Limited precision: keep 12 of the 23 mantissa bits (round-to-nearest).
    u = out.view(np.uint32)
    drop = 11
    u += np.uint32(1 << (drop - 1))
    u &= np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    return (), {"smooth_f32": out}


def gen_small_int64(scale):
    rng = _rng(3)
    a = rng.integers(0, 100, size=(128 * MiB // 8) // scale, dtype=np.int64)
    return (), {"small_int64": a}


def gen_uint8_images(scale):
    """A (512, 512, 512) uint8 image stack: gradients plus blobs plus noise.

    Each slice has a linear background gradient and about six Gaussian blobs
    that drift slowly across the slices (like a microscopy or CT stack), plus
    sensor noise, clipped to 0..255. With --quick there are 16x fewer slices.
    """
    rng = _rng(4)
    nz, ny, nx = 512 // scale, 512, 512
    out = np.empty((nz, ny, nx), dtype=np.uint8)
    yy = np.arange(ny, dtype=np.float32)
    xx = np.arange(nx, dtype=np.float32)
    nblobs = 6
    c0 = rng.uniform(64, 448, size=(nblobs, 2)).astype(np.float32)
    vel = rng.uniform(-0.4, 0.4, size=(nblobs, 2)).astype(np.float32)
    sig = rng.uniform(20, 70, size=nblobs).astype(np.float32)
    amp = rng.uniform(40, 110, size=nblobs).astype(np.float32)
    gy = np.float32(rng.uniform(-0.08, 0.08))
    gx = np.float32(rng.uniform(-0.08, 0.08))
    background = (np.float32(60.0) + gy * yy[:, None] + gx * xx[None, :]).astype(np.float32)
    for z in range(nz):
        img = background.copy()
        for b in range(nblobs):
            cy, cx = c0[b] + vel[b] * np.float32(z * scale)
            ey = np.exp(-((yy - cy) ** 2) / (np.float32(2.0) * sig[b] ** 2))
            ex = np.exp(-((xx - cx) ** 2) / (np.float32(2.0) * sig[b] ** 2))
            img += amp[b] * ey[:, None] * ex[None, :]
        img += rng.normal(0.0, 3.0, size=(ny, nx)).astype(np.float32)
        np.clip(img, 0, 255, out=img)
        out[z] = img.astype(np.uint8)
    return (), {"uint8_images": out}


def gen_many_small(scale):
    """2000 arrays of 512 float64 (4 KiB each), half random and half smooth."""
    rng = _rng(5)
    n = max(2000 // scale, 16)
    t = np.linspace(0.0, 1.0, 512)
    arrays = {}
    for i in range(n):
        if i % 2 == 0:
            a = rng.standard_normal(512)
        else:
            f = rng.uniform(0.5, 8.0)
            a = np.round(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) * 1000.0) / 1000.0
        arrays[f"arr_{i:04d}"] = a
    return (), arrays


def gen_mixed_dict(scale):
    """10 arrays of mixed dtypes and layouts, about 48 MiB in total."""
    rng = _rng(6)
    s = scale
    n1m = (1 << 20) // s  # 1 Mi elements, scaled
    d = {}
    # float64, Fortran-ordered 2-D, smooth plus noise (16 MiB).
    r, c = 2048 // s, 1024
    base = np.sin(np.linspace(0, 20, r))[:, None] * np.cos(np.linspace(0, 7, c))[None, :]
    d["f64_fortran"] = np.asfortranarray(base + 0.001 * rng.standard_normal((r, c)))
    # float32 random (4 MiB).
    d["f32"] = rng.standard_normal(n1m, dtype=np.float32)
    # int32 counts (4 MiB).
    d["i32"] = rng.poisson(200.0, size=n1m).astype(np.int32)
    # int8 (4 MiB).
    d["i8"] = rng.integers(-128, 128, size=4 * n1m, dtype=np.int8)
    # bool mask, about 10% True (4 MiB).
    d["mask"] = rng.random(4 * n1m) < 0.1
    # complex64 (4 MiB).
    d["c64"] = (
        rng.standard_normal(n1m // 2, dtype=np.float32) + 1j * rng.standard_normal(n1m // 2, dtype=np.float32)
    ).astype(np.complex64)
    # datetime64[ns], irregular increasing timestamps (4 MiB).
    start = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)
    steps = rng.integers(1, 2_000_000_000, size=n1m // 2, dtype=np.int64)
    d["timestamps"] = (start + np.cumsum(steps)).astype("datetime64[ns]")
    # Fixed-width unicode strings ('U12' = 48 bytes each, about 4 MiB).
    nstr = (1 << 20) // 12 // s
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
    idx = rng.integers(0, len(words), size=nstr)
    nums = rng.integers(0, 100000, size=nstr)
    d["labels"] = np.char.add(np.char.add(words[idx], "_"), nums.astype("U6")).astype("U12")
    # Structured dtype (16 bytes per record, 4 MiB).
    sdt = np.dtype([("x", "<f4"), ("y", "<f4"), ("id", "<i4"), ("flag", "u1"), ("pad", "V3")])
    st = np.zeros(n1m // 4, dtype=sdt)
    st["x"] = rng.standard_normal(len(st), dtype=np.float32)
    st["y"] = rng.uniform(0, 100, size=len(st)).astype(np.float32)
    st["id"] = np.arange(len(st), dtype=np.int32)
    st["flag"] = rng.integers(0, 4, size=len(st), dtype=np.uint8)
    d["records"] = st
    # Non-contiguous view: every 2nd row and 3rd column of a float64 matrix.
    big = np.round(rng.standard_normal((2048 // s, 3072)), 3)
    d["strided_view"] = big[::2, ::3]  # 1024/s x 1024 float64 (8 MiB), not contiguous
    assert not d["strided_view"].flags.c_contiguous
    assert d["f64_fortran"].flags.f_contiguous and not d["f64_fortran"].flags.c_contiguous
    return (), d


# name -> (generator, is_large, default repeats full, default repeats quick)
DATASETS = {
    "random_f64": (gen_random_f64, True, 5, 3),
    "smooth_f32": (gen_smooth_f32, True, 5, 3),
    "small_int64": (gen_small_int64, True, 5, 3),
    "uint8_images": (gen_uint8_images, True, 5, 3),
    "many_small": (gen_many_small, False, 15, 21),
    "mixed_dict": (gen_mixed_dict, True, 7, 5),
}


def dataset_nbytes(args, kwargs):
    return sum(np.asarray(a).nbytes for a in list(args) + list(kwargs.values()))


# ----------------------------------------------------------------------------
# Correctness: a fast but wrong build must not post a number.
# ----------------------------------------------------------------------------


def expected_arrays(args, kwargs):
    exp = {f"arr_{i}": a for i, a in enumerate(args)}
    exp.update(kwargs)
    return exp


def verify_npz(path, args, kwargs):
    """Return a list of problems; an empty list means the file is correct.

    The file must be a valid zip whose members are all DEFLATE-compressed with
    correct CRCs. np.load must give back exactly the input names, dtypes and
    shapes, with the Fortran order kept, and identical bytes.
    """
    problems = []
    exp = expected_arrays(args, kwargs)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [zi.filename for zi in infos]
            if sorted(names) != sorted(f"{k}.npy" for k in exp):
                problems.append(f"zip members differ: {len(names)} members, e.g. {names[:3]}; expected {len(exp)}")
            stored = [zi.filename for zi in infos if zi.compress_type != zipfile.ZIP_DEFLATED]
            if stored:
                problems.append(f"{len(stored)} members are not DEFLATE-compressed, e.g. {stored[:3]}")
            bad = zf.testzip()  # reads every member in full and checks its CRC-32
            if bad is not None:
                problems.append(f"CRC/decompression error in member {bad!r}")
    except Exception as e:  # noqa: BLE001
        return [f"not a readable zip file: {type(e).__name__}: {e}"]
    if problems:
        return problems
    try:
        with np.load(path, allow_pickle=False) as z:
            if sorted(z.files) != sorted(exp):
                problems.append(f"np.load keys differ: {sorted(z.files)[:5]} vs {sorted(exp)[:5]}")
                return problems
            for k, a in exp.items():
                a = np.asanyarray(a)
                b = z[k]
                if b.dtype != a.dtype:
                    problems.append(f"{k}: dtype {b.dtype} != {a.dtype}")
                    continue
                if b.shape != a.shape:
                    problems.append(f"{k}: shape {b.shape} != {a.shape}")
                    continue
                # numpy writes fortran_order=True exactly for F-but-not-C-contiguous input.
                want_f = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
                got_f = bool(b.flags.f_contiguous and not b.flags.c_contiguous)
                if want_f != got_f:
                    problems.append(f"{k}: fortran_order {got_f} != numpy's {want_f}")
                if np.ascontiguousarray(a).tobytes() != np.ascontiguousarray(b).tobytes():
                    problems.append(f"{k}: array contents differ")
                if len(problems) > 10:
                    problems.append("... (stopping after 10 problems)")
                    break
    except Exception as e:  # noqa: BLE001
        problems.append(f"np.load failed: {type(e).__name__}: {e}")
    return problems


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------


def make_impls(fast_save, fast_options, level=None):
    """Return the implementations one row times, as name -> callable(path, args, kwargs).

    Parameters
    ----------
    fast_save, fast_options
        fastnpz's ``savez_compressed`` and ``options`` (see `load_fastnpz`).
    level : int, optional
        None for the default-call row: ``numpy``, ``fastnpz`` (default options)
        and ``fastnpz_1t`` (``options(threads=1)``). An int for a per-level
        row: ``numpy`` and ``fastnpz`` under ``options(level=level)`` with the
        default threads.

    Returns
    -------
    dict
        The callables, in the order a forward round runs them.
    """

    def run_numpy(path, args, kwargs):
        np.savez_compressed(path, *args, **kwargs)

    if level is not None:

        def run_fast_level(path, args, kwargs):
            with fast_options(level=level):
                fast_save(path, *args, **kwargs)

        return {"numpy": run_numpy, "fastnpz": run_fast_level}

    def run_fast(path, args, kwargs):
        fast_save(path, *args, **kwargs)

    def run_fast_1t(path, args, kwargs):
        with fast_options(threads=1):
            fast_save(path, *args, **kwargs)

    return {"numpy": run_numpy, "fastnpz": run_fast, "fastnpz_1t": run_fast_1t}


def timed_save(fn, path, args, kwargs):
    """Run one save; return (wall seconds, output bytes, CPU seconds of all threads)."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    fn(path, args, kwargs)
    dt = time.perf_counter() - t0
    return dt, os.path.getsize(path), time.process_time() - c0


def bench_timing(name, args, kwargs, impls, repeats, tmpdir, warmup, log):
    """Run `repeats` rounds of every implementation in `impls`.

    Even rounds run `impls` in order, odd rounds in reverse: for the default
    row numpy, fastnpz, fastnpz threads=1 and then the other way round; for a
    per-level row numpy, fastnpz and then fastnpz, numpy. Ratios are taken
    within one round, so slow drift in machine load cancels out. Outputs from
    the first round are checked for correctness before anything is reported.
    """
    times = {k: [] for k in impls}
    sizes = {k: [] for k in impls}
    cpu = {k: [] for k in impls}
    verify = {}
    if warmup:
        for impl, fn in impls.items():
            p = os.path.join(tmpdir, f"warmup_{impl}.npz")
            try:
                fn(p, args, kwargs)
            except Exception as e:
                if impl == "numpy":
                    raise
                verify[impl] = [f"raised {type(e).__name__}: {e}"]
                return times, sizes, cpu, verify
            finally:
                with contextlib.suppress(OSError):
                    os.remove(p)
    for r in range(repeats):
        order = list(impls) if r % 2 == 0 else list(reversed(impls))
        for impl in order:
            path = os.path.join(tmpdir, f"{name}_{impl}.npz")
            try:
                dt, size, cpu_s = timed_save(impls[impl], path, args, kwargs)
            except Exception as e:
                if impl == "numpy":
                    raise
                verify[impl] = [f"raised {type(e).__name__}: {e}"]
                with contextlib.suppress(OSError):
                    os.remove(path)
                return times, sizes, cpu, verify
            times[impl].append(dt)
            sizes[impl].append(size)
            cpu[impl].append(cpu_s)
            if r == 0 and impl != "numpy":
                probs = verify_npz(path, args, kwargs)
                verify[impl] = probs
                if probs:
                    os.remove(path)
                    return times, sizes, cpu, verify
            os.remove(path)
        log(f"  round {r + 1}/{repeats}: " + "  ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    return times, sizes, cpu, verify


def pair_summary(times, sizes, impl):
    """Summarise `impl` against numpy over paired rounds.

    Returns
    -------
    dict
        The per-round ratios ``t_numpy / t_impl`` and their median
        (``speedup``) and range, the median times, the median output sizes
        and their ratio ``impl / numpy``.
    """
    ratios = [a / b for a, b in zip(times["numpy"], times[impl], strict=False)]
    np_size = statistics.median(sizes["numpy"])
    fz_size = statistics.median(sizes[impl])
    return {
        "ratios": ratios,
        "numpy_s": statistics.median(times["numpy"]),
        "fastnpz_s": statistics.median(times[impl]),
        "speedup": statistics.median(ratios),
        "speedup_range": f"{min(ratios):.2f}..{max(ratios):.2f}x",
        "numpy_bytes": int(np_size),
        "fastnpz_bytes": int(fz_size),
        "fastnpz_size_varies": len(set(sizes[impl])) > 1,
        "size_ratio": fz_size / np_size,
    }


def time_row(row, args, kwargs, impls, repeats, tmpdir, warmup, log):
    """Time one row's implementations with `bench_timing` and fill in `row`.

    Adds ``verify``; then, if every output was correct, ``times``, ``sizes``,
    ``cpu_s`` (CPU seconds of all threads per call), the `pair_summary`
    fields of ``fastnpz`` and ``fastnpz_cpu_per_wall``, else ``error``.

    Returns
    -------
    bool
        True if every output was correct.
    """
    times, sizes, cpu, verify = bench_timing(row["dataset"], args, kwargs, impls, repeats, tmpdir, warmup, log)
    row["verify"] = verify
    bad = {k: v for k, v in verify.items() if v}
    if bad:
        row["error"] = "; ".join(f"{k}: {', '.join(v[:3])}" for k, v in bad.items())
        log(f"{row_label(row)} CORRECTNESS FAILURE: {row['error']}")
        return False
    row.update({"times": times, "sizes": sizes, "cpu_s": cpu}, **pair_summary(times, sizes, "fastnpz"))
    # CPU time over wall time of the default call: about N when its N threads
    # all ran, about 1 when the machine had no core to spare for them.
    row["fastnpz_cpu_per_wall"] = statistics.median(
        c / t for c, t in zip(cpu["fastnpz"], times["fastnpz"], strict=False)
    )
    return True


# Every dataset of every suite: name -> (suite, generator, is_large,
# default repeats full, default repeats quick). Names are unique across suites.
SUITES = ("seeded", "real", "classes")
REGISTRY = {name: ("seeded", *spec) for name, spec in DATASETS.items()}
REGISTRY.update({name: ("real", *spec) for name, spec in realdata.REAL_DATASETS.items()})
REGISTRY.update({name: ("classes", gen, True, 5, 3) for name, (gen, _, _) in classes.CLASSES.items()})

# The real datasets as kinds of data, for the size-classes table: name -> (kind, dtype).
REAL_KINDS = {
    "photo_stack": ("photographs, 256x256 RGB crops", "uint8"),
    "photo_dict": ("photographs and scans, native shapes", "uint8 (+ int64)"),
    "float_images": ("float images", "float32/float64"),
    "model_weights": ("model weights", "float32"),
    "measurements": ("measured signals and tables", "mixed"),
    "small_real": ("many small arrays", "mixed"),
}


# ----------------------------------------------------------------------------
# Peak memory (each measurement in a fresh subprocess)
# ----------------------------------------------------------------------------


def mem_worker(dataset, impl, scale, tmpdir, level=None):
    """Child-process entry point: measure the peak extra RSS of one save call.

    `impl` and `level` name the call as in `make_impls`. The result is printed
    as one ``MEMRESULT {json}`` line on stdout.
    """
    import threading

    fast_save, fast_options, _ = load_fastnpz()
    impls = make_impls(fast_save, fast_options, level)
    fn = impls[impl]
    # Warm up on a tiny input so lazy imports and thread-pool setup are not counted.
    tiny = os.path.join(tmpdir, f"mem_tiny_{os.getpid()}.npz")
    fn(tiny, (), {"t": np.arange(16.0)})
    os.remove(tiny)

    args, kwargs = REGISTRY[dataset][1](scale)
    path = os.path.join(tmpdir, f"mem_{dataset}_{impl}_{os.getpid()}.npz")
    gc.collect()
    gc.disable()
    baseline = status_kib("VmRSS")
    if reset_hwm():
        method = "VmHWM after clear_refs=5"
        t0 = time.perf_counter()
        fn(path, args, kwargs)
        dt = time.perf_counter() - t0
        peak = status_kib("VmHWM")
    else:
        method = "VmRSS sampled every 1 ms"
        stop = threading.Event()
        peak_box = [baseline]

        def sampler():
            while not stop.is_set():
                peak_box[0] = max(peak_box[0], status_kib("VmRSS"))
                time.sleep(0.001)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        t0 = time.perf_counter()
        fn(path, args, kwargs)
        dt = time.perf_counter() - t0
        stop.set()
        th.join()
        peak = max(peak_box[0], status_kib("VmRSS"))
    gc.enable()
    os.remove(path)
    out = {
        "dataset": dataset,
        "impl": impl,
        "level": level,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "extra_mib": max(0, peak - baseline) / 1024.0,
        "time_s": dt,
        "method": method,
        "fastnpz_build": FAST_BUILD,
    }
    print("MEMRESULT " + json.dumps(out), flush=True)


def measure_memory(dataset, impl, quick, tmpdir, level=None):
    """Run `mem_worker` in a fresh subprocess and return its result dict."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_mem-worker", dataset, impl, tmpdir]
    if quick:
        cmd.append("--quick")
    if level is not None:
        cmd += ["--level", str(level)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("MEMRESULT "):
            return json.loads(line[len("MEMRESULT ") :])
    what = f"{dataset}/{impl}" + ("" if level is None else f" level {level}")
    raise RuntimeError(f"memory worker for {what} failed (rc={proc.returncode}):\n{proc.stderr[-2000:]}")


def row_label(row):
    """``[dataset]`` or ``[dataset][level L]``, the prefix of a row's log lines."""
    return f"[{row['dataset']}]" + (f"[level {row['level']}]" if "level" in row else "")


def record_memory(row, impl, key, quick, tmpdir, log):
    """Measure the peak extra RSS of one call of `row` and store it in ``row[key]``.

    The call is `impl` of the row's dataset, under ``options(level=...)`` for
    a per-level row. The worker's full result goes to ``row["memory"][impl]``;
    a failed measurement is logged and stored there as ``{"error": ...}``,
    leaving ``row[key]`` unset.
    """
    try:
        m = measure_memory(row["dataset"], impl, quick, tmpdir, row.get("level"))
    except RuntimeError as e:
        log(f"{row_label(row)} {impl}: memory measurement failed: {e}")
        row.setdefault("memory", {})[impl] = {"error": str(e)}
        return
    row[key] = m["extra_mib"]
    row.setdefault("memory", {})[impl] = m
    log(f"{row_label(row)} {impl}: peak extra RSS {m['extra_mib']:.1f} MiB ({m['method']})")


# The load measurements: row["memory"] key -> (loader, which writer's archive).
LOAD_MEMORY = {
    "numpy@numpy": ("numpy", "numpy"),
    "fastnpz@numpy": ("fastnpz", "numpy"),
    "fastnpz@fastnpz": ("fastnpz", "fastnpz"),
}


def record_load_memory(row, archives, tiny, log):
    """Peak extra anonymous memory of one full load per `LOAD_MEMORY` entry, into ``row["memory"]``."""
    for key, (impl, writer) in LOAD_MEMORY.items():
        cmd = [sys.executable, os.path.abspath(__file__), "--_load-mem-worker", impl, archives[writer], tiny]
        try:
            m = loadbench.measure(cmd)
        except RuntimeError as e:
            log(f"[{row['dataset']}] load memory {key} failed: {e}")
            row.setdefault("memory", {})[key] = {"error": str(e)}
            continue
        row.setdefault("memory", {})[key] = m
        log(
            f"[{row['dataset']}] load {impl} on the {writer}-written archive: peak extra anon "
            f"{m['extra_anon_mib']:.1f} MiB beyond {m['loaded_bytes'] / MiB:.1f} MiB of arrays ({m['samples']} samples)"
        )


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------


def machine_info(fast_version):
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gib = int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": cpu_model,
        "mem_total_gib": round(mem_gib, 1) if mem_gib else None,
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "fastnpz": fast_version,
        "fake": FAKE_MODE or False,
        "fastnpz_build": FAST_BUILD,
        "loadavg_start": _loadavg(),
    }


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def banner(lines):
    """A block nobody can miss, on stdout and stderr."""
    text = "\n".join(["#" * 78, *(f"##  {line}" for line in lines), "#" * 78])
    print(text, flush=True)
    print(text, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


DEFAULT_LEVEL_REPEATS = 5
REQUIREMENTS = os.path.join(HERE, "requirements.txt")


def parse_levels(spec):
    """Parse a ``--levels`` value such as ``0-9``, ``1,6,9`` or ``0-3,6``.

    Returns
    -------
    list of int
        The distinct levels, sorted.

    Raises
    ------
    argparse.ArgumentTypeError
        If a part is neither a level 0-9 nor a low-high range of them.
    """
    levels = set()
    for part in spec.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi if dash else lo)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad level {part!r}; use e.g. 0-9 or 1,6,9") from None
        if not 0 <= first <= last <= 9:
            raise argparse.ArgumentTypeError(f"bad level {part!r}: levels are 0-9, ranges low-high")
        levels.update(range(first, last + 1))
    return sorted(levels)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="datasets about 16x smaller (CI smoke run)")
    p.add_argument(
        "--suites", default=",".join(SUITES), help=f"comma-separated suites to run (default: {','.join(SUITES)})"
    )
    p.add_argument(
        "--datasets",
        default=None,
        help="comma-separated datasets of any suite (overrides --suites): " + ",".join(REGISTRY),
    )
    p.add_argument("--repeats", type=int, default=None, help="timing rounds per dataset (default: per dataset)")
    p.add_argument(
        "--levels",
        type=parse_levels,
        default=None,
        metavar="SPEC",
        help="also time fastnpz under options(level=L) against numpy's default call for each level L "
        "in SPEC, e.g. 0-9 or 1,6,9, on the seeded datasets (default: no per-level rows)",
    )
    p.add_argument(
        "--level-repeats",
        type=int,
        default=None,
        metavar="N",
        help=f"timing rounds per level row (default: {DEFAULT_LEVEL_REPEATS}, or the dataset's rounds if fewer)",
    )
    p.add_argument("--skip-load", action="store_true", help="time saving only")
    p.add_argument("--skip-memory", action="store_true", help="skip the peak-memory subprocess measurements")
    p.add_argument(
        "--no-install",
        action="store_true",
        help=f"do not pip install {os.path.relpath(REQUIREMENTS)} when Pillow is missing",
    )
    p.add_argument("--markdown", default=None, metavar="OUT.md", help="also write a Markdown report")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write a JSON report")
    p.add_argument("--check", action="store_true", help="exit non-zero if a target is missed or not measured")
    p.add_argument("--tmpdir", default=None, help="directory for output files (default: tempfile default)")
    return p.parse_args(argv)


def prepare_real_data(install, log):
    """Make the real-data suite runnable: Pillow importable, every wheel cached.

    Returns
    -------
    str or None
        Why the suite cannot run, or None if it can.
    """
    try:
        import PIL
    except ImportError:
        if not install:
            return f"Pillow is not installed (pip install -r {REQUIREMENTS}) and --no-install was given"
        log(f"[real data] Pillow is missing: pip install -r {REQUIREMENTS}")
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", REQUIREMENTS]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = " / ".join(proc.stderr.strip().splitlines()[-3:])
            return f"pip install -r {REQUIREMENTS} failed (exit {proc.returncode}): {tail}"
        import importlib

        importlib.invalidate_caches()
        try:
            import PIL  # noqa: F401
        except ImportError as e:
            return f"Pillow still cannot be imported after installing it: {e}"
    try:
        realdata.fetch_all(log)
    except realdata.RealDataUnavailable as e:
        return str(e)
    return None


def select_datasets(opts):
    """The dataset names to run, in suite order, or raise SystemExit(2) on a bad name."""
    if opts.datasets:
        names = [n.strip() for n in opts.datasets.split(",") if n.strip()]
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            print(f"error: unknown dataset(s) {unknown}; choose from {list(REGISTRY)}", file=sys.stderr)
            raise SystemExit(2)
        return names
    suites = [s.strip() for s in opts.suites.split(",") if s.strip()]
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        print(f"error: unknown suite(s) {unknown}; choose from {list(SUITES)}", file=sys.stderr)
        raise SystemExit(2)
    return [n for n, spec in REGISTRY.items() if spec[0] in suites]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_mem-worker":
        dataset, impl, tmpdir, rest = argv[1], argv[2], argv[3], argv[4:]
        level = int(rest[rest.index("--level") + 1]) if "--level" in rest else None
        mem_worker(dataset, impl, 16 if "--quick" in rest else 1, tmpdir, level)
        return 0
    if argv and argv[0] == "--_load-mem-worker":
        impl, path, tiny = argv[1:4]
        loadbench.mem_worker(np.load if impl == "numpy" else fastnpz_load()[0], path, tiny)
        return 0

    opts = parse_args(argv)
    scale = 16 if opts.quick else 1

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        fast_save, fast_options, fast_version = load_fastnpz()
        fast_load, load_desc = (None, "--skip-load") if opts.skip_load else fastnpz_load()
        threads = default_threads()
    except (ImportError, AttributeError) as e:
        print(
            f"error: cannot import fastnpz ({type(e).__name__}: {e}). Build/install it first, or set "
            "FASTNPZ_BENCH_FAKE=1 to test the harness against numpy.",
            file=sys.stderr,
        )
        return 2
    names = select_datasets(opts)
    levels = opts.levels or []
    skipped = {}
    if fast_load is None:
        skipped["load"] = load_desc
    if any(REGISTRY[n][0] == "real" for n in names):
        why = prepare_real_data(not opts.no_install, log)
        if why:
            if not opts.quick:
                print(
                    f"error: the real-data suite cannot run: {why}\n"
                    f"(fetch it beforehand with `python {os.path.relpath(os.path.join(HERE, 'realdata.py'))} "
                    "--fetch`, or leave it out with --suites seeded,classes)",
                    file=sys.stderr,
                )
                return 2
            skipped["real"] = why
            names = [n for n in names if REGISTRY[n][0] != "real"]

    info = machine_info(fast_version)
    info["default_threads"] = threads
    info["loader"] = load_desc
    print("fastnpz benchmark: numpy vs fastnpz, savez_compressed and load")
    print(f"  cpu: {info['cpu_count']} logical ({info['cpus_usable']} usable)  {info['cpu_model']}")
    print(f"  mem: {info['mem_total_gib']} GiB   platform: {info['platform']}")
    print(f"  python {info['python']} ({info['python_impl']})  numpy {info['numpy']}  fastnpz {info['fastnpz']}")
    print(f"  fastnpz build: {info['fastnpz_build']}   default threads: {threads}")
    la = info["loadavg_start"]
    print(
        f"  load average at start: {la}"
        + ("   (WARNING: busy machine, timings will be noisy)" if la and la[0] > 0.7 else "")
    )
    print(
        f"  mode: {'quick (datasets / 16)' if opts.quick else 'full'}"
        + ("   ** FAKE: the fastnpz side is numpy itself **" if FAKE else "")
        + ("   ** FAKE: fastnpz.load is numpy.load **" if FAKE_MODE == "load" else "")
    )
    print(f"  datasets: {', '.join(names)}")
    if levels:
        print(f"  per-level rows for levels {','.join(map(str, levels))} (seeded suite)")
    print(flush=True)
    if "load" in skipped and not opts.skip_load:
        banner([f"LOAD BENCHMARK SKIPPED: {skipped['load']}.", "Only saving is measured in this run."])
    if "real" in skipped:
        banner(["REAL-DATA SUITE SKIPPED (--quick only; a full run stops instead):", skipped["real"]])

    impls = make_impls(fast_save, fast_options)
    loaders = {"numpy": np.load, "fastnpz": fast_load}
    tmpdir = tempfile.mkdtemp(prefix="fastnpz-bench-", dir=opts.tmpdir)
    results, level_results, load_results = [], [], []
    t_start = time.perf_counter()
    try:
        tiny = os.path.join(tmpdir, "tiny.npz")
        np.savez_compressed(tiny, t=np.arange(16.0))
        for name in names:
            rep_full, rep_quick = REGISTRY[name][3:]
            repeats = opts.repeats or (rep_quick if opts.quick else rep_full)
            res, rows, lrow = run_dataset(
                name,
                scale,
                repeats,
                opts,
                impls,
                fast_save,
                fast_options,
                loaders if fast_load else None,
                levels,
                tmpdir,
                tiny,
                log,
            )
            results.append(res)
            level_results += rows
            if lrow is not None:
                load_results.append(lrow)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    elapsed = time.perf_counter() - t_start
    return finish(opts, info, threads, results, level_results, load_results, skipped, elapsed)


def run_dataset(name, scale, repeats, opts, impls, fast_save, fast_options, loaders, levels, tmpdir, tiny, log):
    """Generate one dataset and run everything measured on it.

    Returns
    -------
    tuple
        (save row, per-level rows, load row or None).
    """
    t_dataset = time.perf_counter()
    suite, gen, is_large = REGISTRY[name][:3]
    level_repeats = opts.level_repeats or min(DEFAULT_LEVEL_REPEATS, repeats)
    levels = levels if suite == "seeded" else []
    log(f"[{name}] generating ({suite}) ...")
    t0 = time.perf_counter()
    args, kwargs = gen(scale)
    nbytes = dataset_nbytes(args, kwargs)
    n_arrays = len(args) + len(kwargs)
    log(
        f"[{name}] {nbytes / MiB:.1f} MiB in {n_arrays} arrays, generated in {time.perf_counter() - t0:.1f}s; "
        f"{repeats} rounds" + (f", {level_repeats} per level row" if levels else "")
    )
    warmup = nbytes < 16 * MiB
    res = {
        "dataset": name,
        "suite": suite,
        "large": is_large,
        "single_large_member": is_large and n_arrays == 1,
        "raw_mib": nbytes / MiB,
        "raw_bytes": nbytes,
        "n_arrays": n_arrays,
        "repeats": repeats,
    }
    if suite == "classes":
        res["dtype"], res["kind"] = classes.CLASSES[name][1:]
    if time_row(res, args, kwargs, impls, repeats, tmpdir, warmup, log):
        times, sizes = res["times"], res["sizes"]
        ratios_1t = [a / b for a, b in zip(times["numpy"], times["fastnpz_1t"], strict=False)]
        scaling = [a / b for a, b in zip(times["fastnpz_1t"], times["fastnpz"], strict=False)]
        res.update(
            {
                "ratios_1t": ratios_1t,
                "fastnpz_1t_s": statistics.median(times["fastnpz_1t"]),
                "speedup_1t": statistics.median(ratios_1t),
                "fastnpz_1t_bytes": int(statistics.median(sizes["fastnpz_1t"])),
                "thread_scaling": statistics.median(scaling),
            }
        )
        log(
            f"[{name}] speedup {res['speedup']:.2f}x (1T {res['speedup_1t']:.2f}x, threads "
            f"{res['thread_scaling']:.2f}x, CPU/wall {res['fastnpz_cpu_per_wall']:.2f}), "
            f"size ratio {res['size_ratio']:.4f}"
        )
    rows = []
    for level in levels:
        row = {"dataset": name, "level": level, "repeats": level_repeats}
        level_impls = make_impls(fast_save, fast_options, level)
        log(f"{row_label(row)} {level_repeats} rounds")
        if time_row(row, args, kwargs, level_impls, level_repeats, tmpdir, warmup, log):
            log(f"{row_label(row)} speedup {row['speedup']:.2f}x, size ratio {row['size_ratio']:.4f}")
        rows.append(row)

    lrow, archives = None, {}
    if loaders and suite != "classes":
        lrow = {k: res[k] for k in ("dataset", "suite", "large", "raw_mib", "n_arrays", "repeats")}
        if res.get("error"):
            lrow["error"] = "fastnpz's archive is wrong (see the save row)"
        else:
            archives = {
                "numpy": os.path.join(tmpdir, f"{name}_load_numpy.npz"),
                "fastnpz": os.path.join(tmpdir, f"{name}_load_fastnpz.npz"),
            }
            np.savez_compressed(archives["numpy"], *args, **kwargs)
            fast_save(archives["fastnpz"], *args, **kwargs)
    del args, kwargs
    gc.collect()
    try:
        if archives:
            loadbench.bench_load(lrow, archives, loaders, repeats, log)
        if not opts.skip_memory and suite != "classes":
            if not res.get("error"):
                record_memory(res, "numpy", "numpy_peak_mib", opts.quick, tmpdir, log)
                record_memory(res, "fastnpz", "fastnpz_peak_mib", opts.quick, tmpdir, log)
            for row in rows:
                if not row.get("error"):
                    record_memory(row, "fastnpz", "fastnpz_peak_mib", opts.quick, tmpdir, log)
            if archives and not lrow.get("error"):
                record_load_memory(lrow, archives, tiny, log)
    finally:
        for p in archives.values():
            with contextlib.suppress(OSError):
                os.remove(p)
    res["wall_s"] = time.perf_counter() - t_dataset
    log(f"[{name}] done in {res['wall_s']:.1f}s (everything measured on it)")
    return res, rows, lrow


def finish(opts, info, threads, results, level_results, load_results, skipped, elapsed):
    """Print the tables, check the targets, write --markdown/--json; return the exit code."""
    by_suite = {s: [r for r in results if r["suite"] == s] for s in SUITES}
    by_suite = {s: rows for s, rows in by_suite.items() if rows}
    load_flat = [dict(report.flatten_load(r), large=r["large"]) for r in load_results]
    size_classes = report.class_rows(results, REAL_KINDS) if "classes" in by_suite else []
    save_cols = report.save_columns(threads)

    def suite_columns(suite):
        # The size classes are timed only: no memory columns.
        return [c for c in save_cols if not c[0].endswith("_peak_mib")] if suite == "classes" else save_cols

    titles = {"seeded": "Save: seeded suite", "real": "Save: real-data suite", "classes": "Save: size classes"}
    level_note = [
        "Per level: fastnpz under options(level=L), default threads, vs numpy's default call (zlib level 6),",
        "in paired rounds as above; peak = fastnpz's peak extra RSS at that level.",
    ] + (
        [f"Rounds per row: {opts.level_repeats} (--level-repeats)."]
        if opts.level_repeats
        else [
            f"Rounds per row: min({DEFAULT_LEVEL_REPEATS}, the dataset's rounds), set by --level-repeats;",
            "fewer than the default-call rows, so the min..max ranges are wider.",
        ]
    )
    save_note = (
        "speedup = median over rounds of t_numpy / t_fastnpz (rounds alternate which runs first); "
        f"speedup 1T = the same with fastnpz.options(threads=1); 1T->{threads}T = median of "
        f"t_1T / t_default, the default call's gain from its {threads} threads; size ratio = fastnpz "
        "bytes / numpy bytes; peak = peak RSS above the pre-call baseline during one call, in a "
        "fresh subprocess."
    )
    load_note = (
        "Load: every member read by `with load(path) as f: {k: f[k] for k in f}` (items() column: "
        "`dict(f.items())`), numpy.load vs fastnpz.load in alternating pairs on the archive numpy "
        "wrote and on the one fastnpz wrote; speedup = median of t_numpy / t_fastnpz. extra = peak "
        "RssAnon during one full load, in a fresh subprocess, minus RssAnon before it and minus the "
        "bytes of the loaded arrays."
    )

    def summary_lines():
        out = []
        for suite, rows in by_suite.items():
            med = report.median_of(rows, "speedup")
            if med is not None:
                out.append(f"save median speedup, {suite} suite ({len(rows)} datasets): {med:.2f}x")
        single = [r for r in results if r.get("single_large_member")]
        med = report.median_of(single, "thread_scaling")
        if med is not None:
            out.append(
                f"save thread scaling 1T->{threads}T, median over {len(single)} single-large-member "
                f"datasets: {med:.2f}x"
            )
        for key, what in (("np_speedup", "numpy-written"), ("fz_speedup", "fastnpz-written")):
            med = report.median_of(load_flat, key)
            if med is not None:
                out.append(f"load median speedup, {what} archives ({len(load_flat)} datasets): {med:.2f}x")
        return out

    for suite, rows in by_suite.items():
        print(f"== {titles[suite]} ==")
        print(report.text_table(rows, suite_columns(suite)))
        print()
        print(report.text_table(rows, report.DETAIL_COLUMNS))
        print()
    print(save_note)
    if level_results:
        print()
        print(report.text_table(level_results, report.LEVEL_COLUMNS))
        print()
        print("\n".join(level_note))
    if size_classes:
        print("\n== Size classes (seeded kinds, then the real-data suite's rows) ==")
        print(report.text_table(size_classes, report.CLASS_COLUMNS))
        print("numpy out/in = numpy's archive bytes / raw bytes (how compressible the kind is).")
    if load_flat:
        print("\n== Load ==")
        print(report.text_table(load_flat, report.LOAD_COLUMNS))
        print()
        print(report.text_table(load_flat, report.LOAD_DETAIL_COLUMNS))
        print(load_note)
    print()
    for line in summary_lines():
        print(line)
    info["loadavg_end"] = _loadavg()
    builds = {FAST_BUILD} | {
        m.get("fastnpz_build")
        for r in results + level_results
        for m in r.get("memory", {}).values()
        if m.get("fastnpz_build")
    }
    build_now = _describe_build(sys.modules["fastnpz"]) if "fastnpz" in sys.modules else FAST_BUILD
    if len(builds | {build_now}) > 1:
        info["build_changed_during_run"] = sorted(builds | {build_now})
        print("WARNING: the fastnpz extension was rebuilt during this run; numbers mix builds:")
        for b in sorted(builds | {build_now}):
            print(f"  {b}")
    print(f"total benchmark time: {elapsed:.0f}s; load average at end: {info['loadavg_end']}")
    for what, why in skipped.items():
        print(f"SKIPPED {'real-data suite' if what == 'real' else 'load benchmark'}: {why}")

    wrong = [r["dataset"] for r in results if r.get("error")]
    wrong += [f"{r['dataset']} level {r['level']}" for r in level_results if r.get("error")]
    wrong += [f"{r['dataset']} (load)" for r in load_results if r.get("error")]
    t = targets.Targets()
    targets.check_save(t, by_suite, threads, {"real": f"skipped: {skipped['real']}"} if "real" in skipped else {})
    targets.check_load(t, load_flat, skipped.get("load"))
    target_lines = t.summary()
    print("\nTargets" + ("" if opts.check else " (informational; --check makes a miss exit 1)") + ":")
    for line in target_lines:
        print(line)

    if opts.markdown:
        write_markdown(
            opts,
            info,
            threads,
            by_suite,
            suite_columns,
            titles,
            save_note,
            level_results,
            level_note,
            size_classes,
            load_flat,
            load_note,
            summary_lines(),
            skipped,
            target_lines,
        )
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "quick": opts.quick,
                    "elapsed_s": elapsed,
                    "suites": {s: [r["dataset"] for r in rows] for s, rows in by_suite.items()},
                    "results": results,
                    "size_classes": [
                        {
                            k: r.get(k)
                            for k in (
                                "kind",
                                "dtype",
                                "dataset",
                                "suite",
                                "raw_mib",
                                "numpy_ratio",
                                "size_ratio",
                                "speedup",
                                "thread_scaling",
                            )
                        }
                        for r in size_classes
                    ],
                    "load": {"loader": info["loader"], "skipped": skipped.get("load"), "results": load_results},
                    "levels": {"levels": opts.levels, "level_repeats": opts.level_repeats, "results": level_results}
                    if level_results
                    else None,
                    "real_data": {
                        "cache": realdata.cache_dir(),
                        "wheels": realdata.provenance(),
                        "skipped": skipped.get("real"),
                    },
                    "summary": summary_lines(),
                    "targets": t.items,
                    "check": {"enabled": opts.check, "failures": t.failures} if opts.check else None,
                },
                f,
                indent=2,
            )

    rc = 0
    if wrong:
        print(f"\nCORRECTNESS FAILURE on: {', '.join(wrong)} (no numbers reported for these)")
        rc = 1
    if opts.check:
        if t.failures:
            print(f"\n{len(t.failures)} target checks NOT met (see above).")
            rc = 1
        else:
            print("\nAll targets met.")
    return rc


def write_markdown(
    opts,
    info,
    threads,
    by_suite,
    suite_columns,
    titles,
    save_note,
    level_results,
    level_note,
    size_classes,
    load_flat,
    load_note,
    summary,
    skipped,
    target_lines,
):
    """Write the README-ready report: one section per table, then the targets."""
    md = [
        "# fastnpz benchmark",
        "",
        (
            f"- CPU: {info['cpu_count']} logical ({info['cpus_usable']} usable), {info['cpu_model']}; "
            f"fastnpz default threads: {threads}"
        ),
        f"- Memory: {info['mem_total_gib']} GiB; platform: {info['platform']}",
        f"- Python {info['python']}, numpy {info['numpy']}, fastnpz {info['fastnpz']}; loader: {info['loader']}",
        f"- fastnpz build: `{info['fastnpz_build']}`",
        f"- Load average at start / end: {info['loadavg_start']} / {info['loadavg_end']}",
        f"- Mode: {'quick' if opts.quick else 'full'}" + (f" (FAKE={FAKE_MODE})" if FAKE_MODE else ""),
        *(f"- **SKIPPED** {'real-data suite' if k == 'real' else 'load benchmark'}: {v}" for k, v in skipped.items()),
        "",
        *(f"- {line}" for line in summary),
    ]
    for suite, rows in by_suite.items():
        md += [
            "",
            f"## {titles[suite]}",
            "",
            report.markdown_table(rows, suite_columns(suite)),
            "",
            report.markdown_table(rows, report.DETAIL_COLUMNS),
        ]
    md += ["", save_note]
    if size_classes:
        md += [
            "",
            "## Size classes",
            "",
            report.markdown_table(size_classes, report.CLASS_COLUMNS),
            "",
            (
                "Seeded kinds first, then the real-data suite's rows as kinds. numpy out/in = numpy's archive "
                "bytes / raw bytes; size ratio = fastnpz bytes / numpy bytes."
            ),
        ]
    if load_flat:
        md += [
            "",
            "## Load",
            "",
            report.markdown_table(load_flat, report.LOAD_COLUMNS),
            "",
            report.markdown_table(load_flat, report.LOAD_DETAIL_COLUMNS),
            "",
            load_note,
        ]
    if level_results:
        md += [
            "",
            "## Per compression level",
            "",
            report.markdown_table(level_results, report.LEVEL_COLUMNS),
            "",
            " ".join(level_note),
        ]
    if "real" in by_suite:
        md += ["", "## Real-data sources", "", "| package | wheel | sha256 |", "|:---|:---|:---|"]
        md += [
            f"| {w['requirement']} | {w['wheel']} | `{w['sha256'][:16]}...` |" for w in realdata.provenance().values()
        ]
    md += ["", "## Targets" + ("" if opts.check else " (informational)"), "", "```", *target_lines, "```"]
    with open(opts.markdown, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    sys.exit(main())
