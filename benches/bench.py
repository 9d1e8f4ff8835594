#!/usr/bin/env python3
"""Benchmark fastnpz.savez_compressed against numpy.savez_compressed.

Usage:
    python3 benches/bench.py [--quick] [--repeats N] [--datasets a,b]
                             [--levels SPEC] [--level-repeats N]
                             [--markdown out.md] [--json out.json] [--check]

See benches/README.md for what each column means.

Set FASTNPZ_BENCH_FAKE=1 to run the "fastnpz" side with numpy's own
savez_compressed. This lets you test the harness without a build; every
speedup should then come out near 1.0.
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

import numpy as np

MiB = 1 << 20

# ----------------------------------------------------------------------------
# Implementations
# ----------------------------------------------------------------------------

FAKE = os.environ.get("FASTNPZ_BENCH_FAKE", "") not in ("", "0")


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
        def options(level=None, threads=None):  # noqa: ARG001 - same signature
            yield

        return np.savez_compressed, options, "FAKE (numpy.savez_compressed)"
    import fastnpz  # noqa: PLC0415

    global FAST_BUILD  # noqa: PLW0603
    FAST_BUILD = _describe_build(fastnpz)
    version = getattr(fastnpz, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as _v  # noqa: PLC0415

            version = _v("fastnpz")
        except Exception:  # noqa: BLE001
            version = "unknown"
    return fastnpz.savez_compressed, fastnpz.options, str(version)


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
        rng.standard_normal(n1m // 2, dtype=np.float32)
        + 1j * rng.standard_normal(n1m // 2, dtype=np.float32)
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
                problems.append(
                    f"zip members differ: {len(names)} members, e.g. {names[:3]}; "
                    f"expected {len(exp)}"
                )
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
    gc.collect()
    t0 = time.perf_counter()
    fn(path, args, kwargs)
    dt = time.perf_counter() - t0
    return dt, os.path.getsize(path)


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
    verify = {}
    if warmup:
        for impl, fn in impls.items():
            p = os.path.join(tmpdir, f"warmup_{impl}.npz")
            try:
                fn(p, args, kwargs)
            except Exception as e:  # noqa: BLE001
                if impl == "numpy":
                    raise
                verify[impl] = [f"raised {type(e).__name__}: {e}"]
                return times, sizes, verify
            finally:
                with contextlib.suppress(OSError):
                    os.remove(p)
    for r in range(repeats):
        order = list(impls) if r % 2 == 0 else list(reversed(impls))
        for impl in order:
            path = os.path.join(tmpdir, f"{name}_{impl}.npz")
            try:
                dt, size = timed_save(impls[impl], path, args, kwargs)
            except Exception as e:  # noqa: BLE001
                if impl == "numpy":
                    raise
                verify[impl] = [f"raised {type(e).__name__}: {e}"]
                with contextlib.suppress(OSError):
                    os.remove(path)
                return times, sizes, verify
            times[impl].append(dt)
            sizes[impl].append(size)
            if r == 0 and impl != "numpy":
                probs = verify_npz(path, args, kwargs)
                verify[impl] = probs
                if probs:
                    os.remove(path)
                    return times, sizes, verify
            os.remove(path)
        log(f"  round {r + 1}/{repeats}: " + "  ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    return times, sizes, verify


def pair_summary(times, sizes, impl):
    """Summarise `impl` against numpy over paired rounds.

    Returns
    -------
    dict
        The per-round ratios ``t_numpy / t_impl`` and their median
        (``speedup``) and range, the median times, the median output sizes
        and their ratio ``impl / numpy``.
    """
    ratios = [a / b for a, b in zip(times["numpy"], times[impl])]
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

    Adds ``verify``; then, if every output was correct, ``times``, ``sizes``
    and the `pair_summary` fields of ``fastnpz``, else ``error``.

    Returns
    -------
    bool
        True if every output was correct.
    """
    times, sizes, verify = bench_timing(row["dataset"], args, kwargs, impls, repeats, tmpdir, warmup, log)
    row["verify"] = verify
    bad = {k: v for k, v in verify.items() if v}
    if bad:
        row["error"] = "; ".join(f"{k}: {', '.join(v[:3])}" for k, v in bad.items())
        log(f"{row_label(row)} CORRECTNESS FAILURE: {row['error']}")
        return False
    row.update({"times": times, "sizes": sizes}, **pair_summary(times, sizes, "fastnpz"))
    return True


# ----------------------------------------------------------------------------
# Peak memory (each measurement in a fresh subprocess)
# ----------------------------------------------------------------------------


def _proc_status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_hwm():
    """Reset VmHWM (peak RSS) to the current RSS. Returns False if not supported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _proc_status_kib("VmHWM") <= _proc_status_kib("VmRSS") + 64


def mem_worker(dataset, impl, scale, tmpdir, level=None):
    """Child-process entry point: measure the peak extra RSS of one save call.

    `impl` and `level` name the call as in `make_impls`. The result is printed
    as one ``MEMRESULT {json}`` line on stdout.
    """
    import threading  # noqa: PLC0415

    fast_save, fast_options, _ = load_fastnpz()
    impls = make_impls(fast_save, fast_options, level)
    fn = impls[impl]
    # Warm up on a tiny input so lazy imports and thread-pool setup are not counted.
    tiny = os.path.join(tmpdir, f"mem_tiny_{os.getpid()}.npz")
    fn(tiny, (), {"t": np.arange(16.0)})
    os.remove(tiny)

    args, kwargs = DATASETS[dataset][0](scale)
    path = os.path.join(tmpdir, f"mem_{dataset}_{impl}_{os.getpid()}.npz")
    gc.collect()
    gc.disable()
    baseline = _proc_status_kib("VmRSS")
    if _reset_hwm():
        method = "VmHWM after clear_refs=5"
        t0 = time.perf_counter()
        fn(path, args, kwargs)
        dt = time.perf_counter() - t0
        peak = _proc_status_kib("VmHWM")
    else:
        method = "VmRSS sampled every 1 ms"
        stop = threading.Event()
        peak_box = [baseline]

        def sampler():
            while not stop.is_set():
                v = _proc_status_kib("VmRSS")
                if v > peak_box[0]:
                    peak_box[0] = v
                time.sleep(0.001)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        t0 = time.perf_counter()
        fn(path, args, kwargs)
        dt = time.perf_counter() - t0
        stop.set()
        th.join()
        peak = max(peak_box[0], _proc_status_kib("VmRSS"))
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
        "fake": FAKE,
        "fastnpz_build": FAST_BUILD,
        "loadavg_start": _loadavg(),
    }


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


COLUMNS = [
    ("dataset", "dataset"),
    ("raw_mib", "size (MiB)"),
    ("numpy_s", "numpy (s)"),
    ("fastnpz_s", "fastnpz (s)"),
    ("speedup", "speedup"),
    ("speedup_1t", "speedup 1T"),
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


def _fmt(key, v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if key == "raw_mib":
        return f"{v:.1f}"
    if key.endswith("_s"):
        return f"{v:.3f}"
    if key.startswith("speedup"):
        return f"{v:.2f}x"
    if key == "size_ratio":
        return f"{v:.4f}"
    if key.endswith("_mib"):
        return f"{v:.1f}"
    if key.endswith("_bytes"):
        return f"{v:,}"
    return str(v)


def row_cells(res, columns):
    cells = []
    for key, _ in columns:
        if res.get("error") and key not in ("dataset", "level", "raw_mib", "n_arrays"):
            cells.append("WRONG" if key in ("speedup", "repeats") else "-")
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


# ----------------------------------------------------------------------------
# Targets (--check). Timing thresholds live here only, never in unit tests.
# ----------------------------------------------------------------------------

MEDIAN_SPEEDUP = 8.0
MIN_SPEEDUP = 2.0
MANY_SMALL_SPEEDUP = 10.0
MAX_SIZE_RATIO = 1.01
MEM_SLACK_MIB = 32.0


def median_speedup(results):
    """Median over datasets of the default-call speedup (None if no row has one)."""
    speedups = [r["speedup"] for r in results if not r.get("error")]
    return statistics.median(speedups) if speedups else None


def check_targets(results):
    """Check the default-call rows against the targets.

    Parameters
    ----------
    results : list of dict
        The default-call rows; per-level rows are not checked.

    Returns
    -------
    list of str
        One message per missed target; empty if all are met.
    """
    failures = []
    for r in results:
        n = r["dataset"]
        if r.get("error"):
            failures.append(f"{n}: output is wrong: {r['error']}")
            continue
        floor, which = (
            (MANY_SMALL_SPEEDUP, "the many_small target") if n == "many_small" else (MIN_SPEEDUP, "every dataset")
        )
        if r["speedup"] < floor:
            failures.append(f"{n}: speedup {r['speedup']:.2f}x < {floor}x ({which})")
        if r["size_ratio"] > MAX_SIZE_RATIO:
            failures.append(f"{n}: size ratio {r['size_ratio']:.4f} > {MAX_SIZE_RATIO} (fastnpz bytes / numpy bytes)")
        if r.get("numpy_peak_mib") is None or r.get("fastnpz_peak_mib") is None:
            failures.append(f"{n}: peak memory not measured (remove --skip-memory for --check)")
        elif r["fastnpz_peak_mib"] > r["numpy_peak_mib"] + MEM_SLACK_MIB:
            failures.append(
                f"{n}: fastnpz peak extra RSS {r['fastnpz_peak_mib']:.1f} MiB > "
                f"numpy's {r['numpy_peak_mib']:.1f} MiB + {MEM_SLACK_MIB:.0f} MiB"
            )
    med = median_speedup(results)
    if med is not None and med < MEDIAN_SPEEDUP:
        n_ok = sum(1 for r in results if not r.get("error"))
        failures.append(f"median speedup over the {n_ok} datasets measured {med:.2f}x < {MEDIAN_SPEEDUP}x")
    return failures


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


DEFAULT_LEVEL_REPEATS = 5


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
    p.add_argument("--repeats", type=int, default=None, help="timing rounds per dataset (default: per dataset)")
    p.add_argument("--datasets", default=None, help="comma-separated subset of: " + ",".join(DATASETS))
    p.add_argument(
        "--levels",
        type=parse_levels,
        default=None,
        metavar="SPEC",
        help="also time fastnpz under options(level=L) against numpy's default call for each level L "
        "in SPEC, e.g. 0-9 or 1,6,9 (default: no per-level rows)",
    )
    p.add_argument(
        "--level-repeats",
        type=int,
        default=None,
        metavar="N",
        help=f"timing rounds per level row (default: {DEFAULT_LEVEL_REPEATS}, or the dataset's rounds if fewer)",
    )
    p.add_argument("--markdown", default=None, metavar="OUT.md", help="also write a Markdown report")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write a JSON report")
    p.add_argument("--check", action="store_true", help="exit non-zero if performance targets are missed")
    p.add_argument("--skip-memory", action="store_true", help="skip the peak-RSS subprocess measurements")
    p.add_argument("--tmpdir", default=None, help="directory for output files (default: tempfile default)")
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_mem-worker":
        dataset, impl, tmpdir, rest = argv[1], argv[2], argv[3], argv[4:]
        level = int(rest[rest.index("--level") + 1]) if "--level" in rest else None
        mem_worker(dataset, impl, 16 if "--quick" in rest else 1, tmpdir, level)
        return 0

    opts = parse_args(argv)
    scale = 16 if opts.quick else 1

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        fast_save, fast_options, fast_version = load_fastnpz()
    except (ImportError, AttributeError) as e:
        print(f"error: cannot import fastnpz ({type(e).__name__}: {e}). Build/install it first, or set "
              "FASTNPZ_BENCH_FAKE=1 to test the harness against numpy.", file=sys.stderr)
        return 2

    if opts.datasets:
        names = [n.strip() for n in opts.datasets.split(",") if n.strip()]
        unknown = [n for n in names if n not in DATASETS]
        if unknown:
            print(f"error: unknown dataset(s) {unknown}; choose from {list(DATASETS)}", file=sys.stderr)
            return 2
    else:
        names = list(DATASETS)
    levels = opts.levels or []

    info = machine_info(fast_version)
    print("fastnpz benchmark: numpy.savez_compressed vs fastnpz.savez_compressed")
    print(f"  cpu: {info['cpu_count']} logical ({info['cpus_usable']} usable)  {info['cpu_model']}")
    print(f"  mem: {info['mem_total_gib']} GiB   platform: {info['platform']}")
    print(f"  python {info['python']} ({info['python_impl']})  numpy {info['numpy']}  fastnpz {info['fastnpz']}")
    print(f"  fastnpz build: {info['fastnpz_build']}")
    la = info["loadavg_start"]
    print(f"  load average at start: {la}"
          + ("   (WARNING: busy machine, timings will be noisy)" if la and la[0] > 0.7 else ""))
    print(f"  mode: {'quick (datasets / 16)' if opts.quick else 'full'}"
          + ("   ** FAKE: the fastnpz side is numpy itself **" if FAKE else ""))
    if levels:
        print(f"  per-level rows for levels {','.join(map(str, levels))}")
    print(flush=True)

    impls = make_impls(fast_save, fast_options)
    tmpdir = tempfile.mkdtemp(prefix="fastnpz-bench-", dir=opts.tmpdir)
    results = []
    level_results = []
    t_start = time.perf_counter()
    try:
        for name in names:
            gen, is_large, rep_full, rep_quick = DATASETS[name]
            repeats = opts.repeats or (rep_quick if opts.quick else rep_full)
            level_repeats = opts.level_repeats or min(DEFAULT_LEVEL_REPEATS, repeats)
            log(f"[{name}] generating ...")
            t0 = time.perf_counter()
            args, kwargs = gen(scale)
            nbytes = dataset_nbytes(args, kwargs)
            log(f"[{name}] {nbytes / MiB:.1f} MiB in {len(args) + len(kwargs)} arrays, "
                f"generated in {time.perf_counter() - t0:.1f}s; {repeats} rounds"
                + (f", {level_repeats} per level row" if levels else ""))
            warmup = nbytes < 16 * MiB
            res = {
                "dataset": name,
                "large": is_large,
                "raw_mib": nbytes / MiB,
                "raw_bytes": nbytes,
                "n_arrays": len(args) + len(kwargs),
                "repeats": repeats,
            }
            if time_row(res, args, kwargs, impls, repeats, tmpdir, warmup, log):
                times, sizes = res["times"], res["sizes"]
                ratios_1t = [a / b for a, b in zip(times["numpy"], times["fastnpz_1t"])]
                res.update(
                    {
                        "ratios_1t": ratios_1t,
                        "fastnpz_1t_s": statistics.median(times["fastnpz_1t"]),
                        "speedup_1t": statistics.median(ratios_1t),
                        "fastnpz_1t_bytes": int(statistics.median(sizes["fastnpz_1t"])),
                    }
                )
                log(f"[{name}] speedup {res['speedup']:.2f}x (1T {res['speedup_1t']:.2f}x), "
                    f"size ratio {res['size_ratio']:.4f}")
            rows = []
            for level in levels:
                row = {"dataset": name, "level": level, "repeats": level_repeats}
                level_impls = make_impls(fast_save, fast_options, level)
                log(f"{row_label(row)} {level_repeats} rounds")
                if time_row(row, args, kwargs, level_impls, level_repeats, tmpdir, warmup, log):
                    log(f"{row_label(row)} speedup {row['speedup']:.2f}x, size ratio {row['size_ratio']:.4f}")
                rows.append(row)
            del args, kwargs
            gc.collect()
            if not opts.skip_memory:
                if not res.get("error"):
                    record_memory(res, "numpy", "numpy_peak_mib", opts.quick, tmpdir, log)
                    record_memory(res, "fastnpz", "fastnpz_peak_mib", opts.quick, tmpdir, log)
                for row in rows:
                    if not row.get("error"):
                        record_memory(row, "fastnpz", "fastnpz_peak_mib", opts.quick, tmpdir, log)
            results.append(res)
            level_results += rows
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    elapsed = time.perf_counter() - t_start

    med = median_speedup(results)
    level_note = [
        "Per level: fastnpz under options(level=L), default threads, vs numpy's default call (zlib level 6),",
        "in paired rounds as above; peak = fastnpz's peak extra RSS at that level.",
    ] + (
        [f"Rounds per row: {opts.level_repeats} (--level-repeats)."] if opts.level_repeats else
        [f"Rounds per row: min({DEFAULT_LEVEL_REPEATS}, the dataset's rounds), set by --level-repeats;",
         "fewer than the default-call rows, so the min..max ranges are wider."]
    )
    print(text_table(results, COLUMNS))
    print()
    print(text_table(results, DETAIL_COLUMNS))
    print()
    if med is not None:
        print(f"median speedup over the {sum(1 for r in results if not r.get('error'))} datasets: {med:.2f}x")
    print("speedup = median over rounds of t_numpy / t_fastnpz (rounds alternate which runs first);")
    print("speedup 1T = the same with fastnpz.options(threads=1); size ratio = fastnpz bytes / numpy bytes;")
    print("peak = peak RSS above the pre-call baseline during one call, in a fresh subprocess.")
    if levels:
        print()
        print(text_table(level_results, LEVEL_COLUMNS))
        print()
        print("\n".join(level_note))
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

    wrong = [r["dataset"] for r in results if r.get("error")]
    wrong += [f"{r['dataset']} level {r['level']}" for r in level_results if r.get("error")]
    failures = check_targets(results) if opts.check else []

    if opts.markdown:
        md = [
            "# fastnpz benchmark",
            "",
            f"- CPU: {info['cpu_count']} logical ({info['cpus_usable']} usable), {info['cpu_model']}",
            f"- Memory: {info['mem_total_gib']} GiB; platform: {info['platform']}",
            f"- Python {info['python']}, numpy {info['numpy']}, fastnpz {info['fastnpz']}",
            f"- fastnpz build: `{info['fastnpz_build']}`",
            f"- Load average at start / end: {info['loadavg_start']} / {info['loadavg_end']}",
            f"- Mode: {'quick' if opts.quick else 'full'}" + (" (FAKE: fastnpz side is numpy)" if FAKE else ""),
            "",
            markdown_table(results, COLUMNS),
            "",
            markdown_table(results, DETAIL_COLUMNS),
            "",
            (f"Median speedup over the datasets: {med:.2f}x. " if med is not None else "")
            + "speedup = median over rounds of t_numpy / t_fastnpz; speedup 1T uses "
            "`fastnpz.options(threads=1)`; size ratio = fastnpz bytes / numpy bytes; "
            "peak = peak RSS above baseline during one call, measured in a fresh subprocess.",
        ]
        if levels:
            md += ["", "## Per compression level", "", markdown_table(level_results, LEVEL_COLUMNS), "",
                   " ".join(level_note)]
        if opts.check:
            md += ["", "## Targets", ""]
            md += [f"- FAILED: {f}" for f in failures] or ["- all targets met"]
        with open(opts.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "quick": opts.quick,
                    "elapsed_s": elapsed,
                    "results": results,
                    "levels": {"levels": levels, "level_repeats": opts.level_repeats, "results": level_results}
                    if levels else None,
                    "check": {"enabled": opts.check, "failures": failures} if opts.check else None,
                },
                f,
                indent=2,
            )

    rc = 0
    if wrong:
        print(f"\nCORRECTNESS FAILURE on: {', '.join(wrong)} (no numbers reported for these)")
        rc = 1
    if opts.check:
        if failures:
            print("\nTargets NOT met:")
            for fl in failures:
                print(f"  FAIL  {fl}")
            rc = 1
        else:
            print("\nAll targets met.")
    return rc


if __name__ == "__main__":
    sys.exit(main())
