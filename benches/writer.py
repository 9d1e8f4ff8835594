"""NpzWriter and mmap_mode, measured beside the calls they replace.

- ``NpzWriter``: 8 members of 16 MiB written one ``write`` at a time,
  against one ``savez_compressed`` call with the same members (the issue's
  bound: at most 1.25x).
- ``load(mmap_mode="r")`` of a 2 GiB stored member against ``np.load``
  (which ignores the mode and reads the member), with the anonymous memory
  each leaves behind.

Run: ``python benches/writer.py [--mmap-gib N] [--repeat N]``. Writes its
files under a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import fastnpz


def _anon_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return -1


def _members() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for i in range(8):
        a = np.cumsum(rng.integers(-3, 4, 2 << 20), dtype=np.int64)  # 16 MiB, compressible
        out[f"m{i}"] = a
    return out


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_writer(d: str, repeat: int) -> None:
    members = _members()
    path = os.path.join(d, "w.npz")

    def one_call() -> None:
        fastnpz.savez_compressed(path, **members)

    def writer() -> None:
        with fastnpz.NpzWriter(path) as w:
            for k, v in members.items():
                w.write(k, v)

    one_call()
    a = _best(one_call, repeat)
    b = _best(writer, repeat)
    print(f"savez_compressed, 8 x 16 MiB: {a * 1000:.0f} ms")
    print(f"NpzWriter.write x 8:          {b * 1000:.0f} ms  ({b / a:.2f}x)")


def bench_mmap(d: str, gib: float) -> None:
    path = os.path.join(d, "stored.npz")
    n = int(gib * (1 << 30)) // 8
    block = np.arange(1 << 21, dtype=np.float64)
    with fastnpz.NpzWriter(path, compress=False) as w, w.stream("big", (n,), np.float64) as s:
        left = n
        while left:
            take = min(left, block.size)
            s.write(block[:take])
            left -= take
    for name, load in (("fastnpz.load(mmap_mode='r')", fastnpz.load), ("np.load(mmap_mode='r')", np.load)):
        before = _anon_kib()
        t = time.perf_counter()
        with load(path, mmap_mode="r") as f:
            a = f["big"]
        dt = time.perf_counter() - t
        grew = _anon_kib() - before
        kind = type(a).__name__
        print(f"{name:28s} {gib:g} GiB stored member: {dt * 1000:8.1f} ms, anonymous +{grew / 1024:.0f} MiB ({kind})")
        del a


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mmap-gib", type=float, default=2.0)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        bench_writer(d, args.repeat)
        bench_mmap(d, args.mmap_gib)
    print(f"(write times: best of {args.repeat})")


if __name__ == "__main__":
    main()
