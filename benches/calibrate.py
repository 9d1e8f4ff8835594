"""Fit the policy's sampling margins on one part of the corpus and judge them on
the held-out part.

Inputs: ``examples/windows.rs`` output (JSON lines: each engine's whole size
against numpy's and, per sample layout, each window's sizes) for both parts,
and ``examples/oracle.rs --engines`` output (each engine's time, one core)
for the time model.

    python benches/calibrate.py --fit CAL.jsonl --judge VAL.jsonl --times ORACLE.tsv [...]

A rule is (layout, spread weight, margin, slack): candidate ``c`` fits when
``sum(c) / sum(zlib) + weight * spread + margin / sqrt(sum(zlib))`` is at most
``1 + slack``, ``spread`` being the largest minus the smallest per-window
ratio; the first candidate (fastest first) that fits is chosen, zlib when
none does. For each rule the script reports the worst whole-member ratio the
rule chooses, and the modelled fraction of the oracle: oracle time /
(sampling + encoding time), sampling being zlib and every candidate up to
the choice on the layout's share of the member.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys

__all__ = ["main"]

#: policy.rs CANDIDATES (literal coding only where every window is noise).
LADDER = ["L1", "L2", "L4", "L5s", "L7s"]
TIME_NAMES = {"Literal": "literal"}
BOUND = 1.01


def load_times(path):
    """{file name: {engine: ms}} from oracle.rs --engines output."""
    out = {}
    for line in open(path):
        r = line.rstrip("\n").split("\t")
        eng = {r[i]: float(r[i + 2]) for i in range(11, len(r) - 2, 3)}
        eng["zlib_numpy"] = float(r[2])
        out[r[0].rsplit("/", 1)[-1]] = eng
    return out


#: The second test fastnpz ships (policy.rs `fits`): spread weight, margin
#: in bytes (divided by zlib's sample bytes, not their square root), slack;
#: only on windows of SECOND_TEST_WINDOW bytes or more.
MATCHES_TEST = (0.75, 40.0, 0.005)
SECOND_TEST_WINDOW = 64 * 1024


def choose(layout, ladder, weight, margin, slack, noise_literal, matches_test=None):
    """The first candidate of `ladder` that fits, and the candidates measured.

    A candidate fits by the first test (`weight`, `margin` over the square
    root of zlib's sample bytes, `slack`), or, when `matches_test` is given
    and the windows are long enough, by that second test.
    """
    if noise_literal and layout["noise"]:
        return "Literal", []
    z = layout["zlib"]
    total = sum(z)
    measured = []
    for c in ladder:
        measured.append(c)
        s = layout[c]
        ratios = [a / max(b, 1) for a, b in zip(s, z, strict=True)]
        ratio, spread = sum(s) / total, max(ratios) - min(ratios)
        if ratio + weight * spread + margin / math.sqrt(total) <= 1 + slack:
            return c, measured
        if matches_test and layout["len"] >= SECOND_TEST_WINDOW:
            w2, m2, s2 = matches_test
            if ratio + w2 * spread + m2 / total <= 1 + s2:
                return c, measured
    return "zlib", measured


def evaluate(members, times, key, ladder, weight, margin, slack, noise_literal, matches_test=None):
    """(worst whole ratio, list of (file, choice, ratio, fraction))."""
    rows = []
    for m in members:
        lay = next(lay for lay in m["layouts"] if (lay["den"], lay["count"]) == key)
        c, measured = choose(lay, ladder, weight, margin, slack, noise_literal, matches_test)
        ratio = 1.0 if c == "zlib" else m["whole"][c]
        name = m["file"].rsplit("/", 1)[-1]
        t = times.get(name)
        frac = None
        if t:
            share = len(lay["zlib"]) * lay["len"] / m["bytes"]
            tz = t["zlib"]
            if measured:
                sample = share * (tz + sum(t[TIME_NAMES.get(k, k)] for k in measured))
            else:
                sample = share * 0.05 * t["literal"]  # only the noise scan ran
            enc = tz if c == "zlib" else t[TIME_NAMES.get(c, c)]
            oracle = min(
                (ms for e, ms in t.items() if e not in ("zlib_numpy",) and whole_ratio(m, e) <= BOUND),
                default=tz,
            )
            frac = oracle / (sample + enc)
        rows.append((name, c, ratio, frac))
    return max(r[2] for r in rows), rows


def whole_ratio(m, engine):
    names = {"literal": "Literal", "zlib": None}
    k = names.get(engine, engine)
    if k is None:
        return 1.0
    return m["whole"].get(k, m.get("oracle_ratios", {}).get(engine, 9.0))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fit", required=True)
    p.add_argument("--judge", required=True)
    p.add_argument("--times", nargs="+", default=[])
    p.add_argument("--worst", type=float, default=1.0075, help="worst whole ratio allowed on the fitting part")
    opts = p.parse_args(argv)
    fit = [json.loads(x) for x in open(opts.fit)]
    judge = [json.loads(x) for x in open(opts.judge)]
    times = {}
    for t in opts.times:
        times.update(load_times(t))
    # Oracle ratios of engines not in the windows data come from oracle.rs.
    for t in opts.times:
        for line in open(t):
            r = line.rstrip("\n").split("\t")
            name = r[0].rsplit("/", 1)[-1]
            for m in fit + judge:
                if m["file"].rsplit("/", 1)[-1] == name:
                    m["oracle_ratios"] = {r[i]: float(r[i + 1]) for i in range(11, len(r) - 2, 3)}
    keys = sorted({(lay["den"], lay["count"]) for lay in fit[0]["layouts"]})
    # The rule fastnpz ships, on the policy's own windows (windows.rs
    # LAYOUTS=0:0) when the data has them.
    shipped = (0, 0) if (0, 0) in keys else keys[0]
    print(f"shipped rule (first test 0.5, 1.0, 0.005; second {MATCHES_TEST}), layout {shipped}:")
    for part, members in (("fitting", fit), ("held-out", judge)):
        worst, rows = evaluate(members, times, shipped, LADDER, 0.5, 1.0, 0.005, True, MATCHES_TEST)
        to_zlib = sum(1 for r in rows if r[1] == "zlib")
        fr = [r[3] for r in rows if r[3] is not None]
        med = f", median fraction {statistics.median(fr):.3f}, min {min(fr):.3f}" if fr else ""
        print(f"  {part}: worst whole ratio {worst:.4f} over {len(rows)} members, {to_zlib} to zlib{med}")
    print()
    best = []
    for key, weight, margin, slack, noise in itertools.product(
        keys,
        [0.0, 0.1, 0.2, 0.35, 0.5],
        [0.0, 0.5, 1.0, 2.0],
        [-0.01, -0.005, -0.0025, 0.0, 0.0025, 0.004, 0.005, 0.006, 0.007, 0.008],
        [True],
    ):
        worst, rows = evaluate(fit, times, key, LADDER, weight, margin, slack, noise)
        fr = [r[3] for r in rows if r[3] is not None]
        if worst <= opts.worst and fr:
            best.append((statistics.median(fr), min(fr), worst, key, weight, margin, slack, noise))
    best.sort(reverse=True)
    print("fitting part: rules within the bound, best median fraction first; the best per layout")
    print("median_frac min_frac worst layout weight margin slack noise->literal")
    shown = set()
    for b in best:
        if b[3] in shown:
            continue
        shown.add(b[3])
        print(f"{b[0]:.3f} {b[1]:.3f} {b[2]:.4f} {b[3]} {b[4]} {b[5]} {b[6]} {b[7]}")
    if not best:
        return 1
    _, _, _, key, weight, margin, slack, noise = best[0]
    worst, rows = evaluate(judge, times, key, LADDER, weight, margin, slack, noise)
    print(f"\nheld-out part, rule {key} weight {weight} margin {margin} slack {slack} noise {noise}:")
    print(f"worst whole ratio {worst:.4f} over {len(rows)} members")
    fr = [r for r in rows if r[3] is not None]
    if fr:
        print(f"median fraction {statistics.median(r[3] for r in fr):.3f}, min {min(r[3] for r in fr):.3f}")
    for r in sorted(rows, key=lambda r: -r[2])[:10]:
        print(f"  {r[0]:60s} {r[1]:8s} {r[2]:.4f} {'' if r[3] is None else f'{r[3]:.3f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
