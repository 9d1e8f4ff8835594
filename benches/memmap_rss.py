"""Show that an np.memmap is streamed, never loaded whole.

Creates a sparse file of --gib GiB (default 4; holes read as zeros, so it
costs no disk), opens it with np.memmap, saves it with fastnpz (and, with
--numpy, with numpy too), and samples the process's anonymous RSS (RssAnon:
heap and buffers, not the page cache that backs the mapping, which the kernel
can drop at any time) every millisecond. Prints the peak above the baseline.

    python benches/memmap_rss.py                  # 4 GiB, fastnpz only
    python benches/memmap_rss.py --gib 48         # twice this machine's RAM
    python benches/memmap_rss.py --gib 1 --numpy  # side by side (numpy is slow)
    python benches/memmap_rss.py --gib 1 --limit-mib 64   # exit 1 above 64 MiB

CI runs the 1 GiB form with a limit; the full-size command is the second one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time

import numpy as np

import fastnpz


def rss_anon_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status")


def peak_during(func) -> tuple[float, float]:
    """Run func(); return (seconds, peak RssAnon above the start, MiB)."""
    base = rss_anon_kib()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_anon_kib())
            time.sleep(0.001)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    try:
        func()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        t.join()
    return elapsed, (max(peak, rss_anon_kib()) - base) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=4.0, help="size of the memmap in GiB (default 4)")
    parser.add_argument("--numpy", action="store_true", help="also measure numpy.savez_compressed")
    parser.add_argument("--limit-mib", type=float, default=None, help="exit 1 if fastnpz's peak exceeds this")
    parser.add_argument("--dir", default=None, help="directory for the sparse file and outputs")
    args = parser.parse_args(argv)
    if not os.path.exists("/proc/self/status"):
        print("needs Linux /proc", file=sys.stderr)
        return 2

    nbytes = int(args.gib * 2**30) // 8 * 8
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        raw = os.path.join(tmp, "sparse.bin")
        with open(raw, "wb") as f:
            f.truncate(nbytes)
        mm = np.memmap(raw, dtype=np.float64, mode="r", shape=(nbytes // 8,))
        print(f"memmap: {nbytes / 2**30:.2f} GiB float64 (sparse file), RssAnon now {rss_anon_kib() / 1024:.0f} MiB")
        runs = [("fastnpz", fastnpz.savez_compressed)]
        if args.numpy:
            runs.append(("numpy", np.savez_compressed))
        worst = 0.0
        for name, save in runs:
            out = os.path.join(tmp, f"{name}.npz")
            seconds, peak = peak_during(lambda save=save, out=out, mm=mm: save(out, data=mm))
            size = os.path.getsize(out)
            print(f"{name:8s} {seconds:7.2f} s  output {size / 2**20:8.1f} MiB  peak extra RssAnon {peak:7.1f} MiB")
            os.unlink(out)
            if name == "fastnpz":
                worst = peak
        del mm
    if args.limit_mib is not None and worst > args.limit_mib:
        print(f"FAIL: fastnpz peak {worst:.1f} MiB > limit {args.limit_mib} MiB")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
