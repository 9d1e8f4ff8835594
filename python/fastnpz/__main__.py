"""``python -m fastnpz``: save seeded data with numpy and with fastnpz, side by
side, check both archives load to the same arrays, and print the timings.
``--level`` and ``--threads`` try fastnpz's options."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import fastnpz

__all__ = ["main"]


def _datasets(mib: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = mib * 1024 * 1024
    side = int((n // 4) ** 0.5)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    field = (np.sin(6 * x) * np.cos(4 * y) + 0.01 * rng.standard_normal((side, side), dtype=np.float32)).round(3)
    return {
        "random float64": {"a": rng.standard_normal(n // 8)},
        "smooth float32 field": {"field": field},
        "small int64": {"counts": rng.integers(0, 100, n // 8)},
        "1000 small arrays": {f"a{i}": rng.standard_normal(512) for i in range(1000)},
    }


def _time(func: Callable[..., Any], path: str, arrays: dict[str, np.ndarray]) -> float:
    start = time.perf_counter()
    func(path, **arrays)
    return time.perf_counter() - start


def _same(path_a: str, path_b: str) -> bool:
    with np.load(path_a) as a, np.load(path_b) as b:
        return a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def main(argv: list[str] | None = None) -> int:
    """Run the side-by-side demonstration; returns a process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m fastnpz",
        description=(
            "Save seeded arrays with numpy.savez_compressed and with "
            "fastnpz.savez_compressed, side by side, check the archives load "
            "to the same arrays, and print times and sizes. For the full "
            "benchmark, see benches/bench.py in the source tree."
        ),
    )
    parser.add_argument("--mib", type=int, default=64, help="size of each large dataset in MiB (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--level",
        type=int,
        help="fastnpz's zlib level, 0-9 (default: $FASTNPZ_LEVEL, else 6 as numpy, which always uses 6)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="upper bound on fastnpz's compression threads (default: $FASTNPZ_THREADS, else the usable cores)",
    )
    args = parser.parse_args(argv)
    if args.mib < 1:
        parser.error("--mib must be at least 1")
    try:
        settings = fastnpz.options(level=args.level, threads=args.threads)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))  # the message names the option

    with settings:
        return _demonstrate(args.mib, args.seed)


def _demonstrate(mib: int, seed: int) -> int:
    opts = fastnpz.get_options()
    print(f"fastnpz {fastnpz.__version__}, numpy {np.__version__}, threads={opts['threads']}, level={opts['level']}")
    header = f"{'dataset':<22}{'numpy s':>9}{'fastnpz s':>11}{'speedup':>9}{'size ratio':>12}  same arrays"
    print(header)
    print("-" * len(header))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, arrays in _datasets(mib, seed).items():
            ref, ours = os.path.join(tmp, "numpy.npz"), os.path.join(tmp, "fastnpz.npz")
            t_np = _time(np.savez_compressed, ref, arrays)
            t_fz = _time(fastnpz.savez_compressed, ours, arrays)
            same = _same(ref, ours)
            ok &= same
            ratio = os.path.getsize(ours) / os.path.getsize(ref)
            print(f"{name:<22}{t_np:>9.3f}{t_fz:>11.3f}{t_np / t_fz:>8.1f}x{ratio:>12.3f}  {'yes' if same else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
