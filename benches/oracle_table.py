"""The policy against the oracle, from ``examples/oracle.rs`` output.

    cargo run --release --no-default-features --example oracle -- FILE... > oracle.tsv
    python benches/oracle_table.py oracle.tsv [--min-kib 256]

Prints the median and worst fraction of the oracle (oracle time / (sampling +
encoding time), one core) over the members of at least ``--min-kib`` KiB,
the worst size ratio, and a Markdown table of the ten worst fractions.
"""

from __future__ import annotations

import argparse
import statistics
import sys

__all__ = ["main", "rows"]


def rows(path):
    """One dict per member line of oracle.rs output."""
    out = []
    for line in open(path):
        r = line.rstrip("\n").split("\t")
        if len(r) < 11:
            continue
        out.append(
            {
                "file": r[0].rsplit("/", 1)[-1],
                "bytes": int(r[1]),
                "zlib_ms": float(r[2]),
                "oracle": r[3],
                "oracle_ratio": float(r[4]),
                "oracle_ms": float(r[5]),
                "choice": r[6],
                "ratio": float(r[7]),
                "sample_ms": float(r[8]),
                "encode_ms": float(r[9]),
                "fraction": float(r[10]),
            }
        )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tsv")
    p.add_argument("--min-kib", type=int, default=256)
    opts = p.parse_args(argv)
    rs = [r for r in rows(opts.tsv) if r["bytes"] >= opts.min_kib << 10]
    if not rs:
        print("no members that large")
        return 1
    fr = [r["fraction"] for r in rs]
    print(
        f"{len(rs)} members of {opts.min_kib} KiB or more: fraction of the oracle median {statistics.median(fr):.3f}, "
        f"worst {min(fr):.3f}; worst size ratio {max(r['ratio'] for r in rs):.4f}"
    )
    print()
    print("| member | KiB | oracle (ratio) | oracle ms | choice (ratio) | sample ms | encode ms | zlib ms | fraction |")
    print("|---|---:|---|---:|---|---:|---:|---:|---:|")
    for r in sorted(rs, key=lambda r: r["fraction"])[:10]:
        print(
            f"| {r['file']} | {r['bytes'] >> 10} | {r['oracle']} ({r['oracle_ratio']:.4f}) | {r['oracle_ms']:.1f} | "
            f"{r['choice']} ({r['ratio']:.4f}) | {r['sample_ms']:.1f} | {r['encode_ms']:.1f} | {r['zlib_ms']:.1f} | "
            f"{r['fraction']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
