"""The parity suite for every engine and level.

fastnpz cuts each member's .npy stream into independent CHUNK_SIZE chunks and
picks an engine per member (sampled at the default level for members of
256 KiB and more: literal-only coding, libdeflate at several efforts, or zlib
itself), with any chunk of pure noise coded as literals; small members get
libdeflate directly; level 0 writes stored blocks and the other explicit
levels libdeflate's same level. The inputs below are seeded and built to
drive each of these paths (and the switches between them inside one member,
and the chunk and size thresholds); for every level 0-9 and threads in
(1, 2) the archive must match numpy's on the same input: member names/order,
decompressed .npy bytes, every zip record field but the compressed sizes and
the offsets they move (assert_full_parity, which also inflates every member
with zlib.decompressobj(-15) and checks the stream ends cleanly),
zipfile.testzip() and np.load; level 0 must be stored deflate blocks only.
Each input is saved once per level and thread count; the thread counts'
archives must be byte-identical, so one parity check covers them all. numpy
is the oracle: its archive is made from the same input objects in this
session (once per input, since numpy has no level or thread option), never
written down by hand.
"""
import struct

import numpy as np
import pytest

from fastnpz._fastnpz import CHUNK_SIZE as CHUNK
from npz_inspect import assert_bytes_identical, assert_full_parity, parse_zip, save_bytes

LEVELS = range(10)
THREADS = (1, 2)


def _rng(seed):
    return np.random.default_rng(seed)


def _smooth(n, seed, dtype="<f8", step=1 / 64):
    """A smooth quantized signal: values repeat a lot (match search pays)."""
    r = _rng(seed)
    t = np.arange(n) / max(n - 1, 1)
    f1, f2, ph = r.uniform(2, 9), r.uniform(20, 60), r.uniform(0, 6.3)
    v = 100 * np.sin(2 * np.pi * f1 * t + ph) + 10 * np.cos(2 * np.pi * f2 * t)
    return (np.round(v / step) * step).astype(dtype)


def _noise(n, seed, dtype="<f8"):
    """Random mantissas: almost no repeated 4-byte strings (literal path)."""
    return _rng(seed).standard_normal(n).astype(dtype)


def _half_and_half(noise_first):
    n = int(2.5 * CHUNK) // 8
    a = np.empty(n, "<f8")
    noisy = _noise(n // 2, 11)
    repetitive = (np.arange(n - n // 2) % 97).astype("<f8")
    if noise_first:
        a[: n // 2], a[n // 2:] = noisy, repetitive
    else:
        a[: n - n // 2], a[n - n // 2:] = repetitive, noisy
    return a


def _image():
    r = _rng(4)
    h, w = 1024, 1536                                   # 1.5 MiB
    y, x = np.mgrid[0:h, 0:w]
    g = 0.6 * x * 255 / w + 0.4 * y * 255 / h + r.integers(0, 6, (h, w))
    return np.clip(g, 0, 255).astype(np.uint8)


def _small_members():
    # 300 x 4 KiB, alternating random / smooth float64
    return {f"m{i:03d}": (_noise(512, 1000 + i) if i % 2 == 0 else _smooth(512, 1000 + i))
            for i in range(300)}


def _size_ladder():
    # whole members from nothing to past the small-member / sampling / window
    # thresholds, alternating random and repetitive bytes
    sizes = [0, 1, 2, 3, 4, 5, 64, 100, 1023, 1024, 1025, 4096, 8191, 8192, 16384,
             32767, 32768, 32769, 49152, 65535, 65536, 65537, 131072,
             256 * 1024 - 129, 256 * 1024 - 128, 256 * 1024 - 127, 256 * 1024]
    out = {}
    for i, n in enumerate(sizes):
        if i % 2 == 0:
            a = _rng(2000 + i).integers(0, 256, n, dtype=np.uint8)
        else:
            a = (np.arange(n) // 5 % 251).astype(np.uint8)
        out[f"s{n}_{'rand' if i % 2 == 0 else 'rep'}"] = a
        # and the other content at the same size
        b = (np.arange(n) // 3 % 241).astype(np.uint8) if i % 2 == 0 else \
            _rng(3000 + i).integers(0, 256, n, dtype=np.uint8)
        out[f"s{n}_{'rep' if i % 2 == 0 else 'rand'}"] = b
    return out


def _fortran():
    f = _smooth(500 * 400, 21).reshape(500, 400) + _noise(500 * 400, 22).reshape(500, 400) * 1e-3
    return {"f2d": np.asfortranarray(f),                                    # 1.5 MiB
            "f3d": np.asfortranarray((np.arange(30 * 40 * 50) % 1009).astype("<i2")
                                     .reshape(30, 40, 50))}


def _strided():
    base = _smooth(1000 * 420, 31).reshape(1000, 420)
    base[::7] = _noise(420, 32)
    cube = (np.arange(40 * 60 * 70) * 2654435761 % 7919).astype("<f4").reshape(40, 60, 70)
    return {"step_rev": base[::2, ::-1][:, 3:],                              # ~1.6 MiB
            "transposed": cube.transpose(2, 0, 1),
            "column": base[:, 5]}


def _structured():
    packed = np.dtype([("id", "<i4"), ("x", "<f8"), ("flag", "u1")])      # 13 bytes
    n = 90_000                                                            # ~1.1 MiB
    s = np.zeros(n, packed)
    s["id"] = np.arange(n) * 3
    s["x"] = _smooth(n, 41)
    s["x"][::3] = _noise(len(s["x"][::3]), 42)
    s["flag"] = np.arange(n) % 3 == 0
    aligned = np.dtype([("a", "<i2"), ("b", "<f4", (3,)), ("c", "S5")], align=True)
    t = np.zeros(1000, aligned)
    t["a"] = np.arange(1000)
    t["b"] = np.arange(3000).reshape(1000, 3) / 7
    t["c"] = [b"ab" * (i % 3) for i in range(1000)]
    return {"packed": s, "aligned": t}


def _objects():
    r = _rng(51)
    small = np.array([1, "a", None, 2.5, [1, 2], {"k": (3, 4)}, b"xy", 10**30] * 50,
                     dtype=object).reshape(40, 10)
    blob = r.bytes(600_000) + b"fastnpz parity " * 60_000             # ~1.5 MB pickled
    big = np.empty(3, dtype=object)
    big[:] = [blob, "tail", np.arange(5)]
    return {"mixed": small, "blob": big}


def _complex():
    n = 100_000                                                           # 1.5 MiB
    z = _smooth(n, 61) + 1j * _noise(n, 62)
    z[::4] = np.round(z[::4].real) + 0j
    return z.astype("<c16")


def _edge(n_items_delta, noise=False):
    """Members of exactly one chunk of data, +/- one item (float64, uint8);
    with ``noise`` also a literal-path chunk followed by a one-item chunk."""
    items = CHUNK // 8 + n_items_delta
    out = {"f8": _smooth(items, 71),
           "u1": (np.arange(CHUNK + n_items_delta) % 253).astype(np.uint8)}
    if noise:
        out["f8_noise"] = _noise(items, 72)
    return out


# name -> () -> (positional arrays, keyword arrays)
INPUTS = {
    "random_f64": lambda: ((), {"x": _noise(int(2.5 * CHUNK) // 8, 1)}),
    "smooth_f32": lambda: ((), {"field": _smooth(int(2.5 * CHUNK) // 4, 2, "<f4",
                                                 1 / 16).reshape(640, -1)}),
    "int64_counts": lambda: ((), {"counts": _rng(3).poisson(3.0, 200_000).astype("<i8")}),
    "uint8_image": lambda: ((), {"img": _image()}),
    "all_zeros": lambda: ((), {"z": np.zeros(int(2.5 * CHUNK) // 8)}),
    "random_then_repetitive": lambda: ((), {"mixed": _half_and_half(True)}),
    "repetitive_then_random": lambda: ((), {"mixed": _half_and_half(False)}),
    "small_members_300": lambda: ((), _small_members()),
    "small_size_ladder": lambda: ((), _size_ladder()),
    "exactly_one_chunk": lambda: ((), _edge(0)),
    "one_chunk_plus_one_item": lambda: ((), _edge(1, noise=True)),
    "one_chunk_minus_one_item": lambda: ((), _edge(-1)),
    "one_item": lambda: ((np.array([1.5]), np.array(7, "<i8")),
                         {"b": np.array([True]), "s": np.array(["x"])}),
    "empty": lambda: ((np.zeros(0),), {"i4_3x0": np.zeros((3, 0), "<i4"),
                                       "S0": np.array([], "S3")}),
    "fortran_order": lambda: ((), _fortran()),
    "strided_views": lambda: ((), _strided()),
    "bool": lambda: ((), {"mask": _rng(81).random((1200, 1000)) < 0.05,
                          "T": (np.arange(5000).reshape(50, 100) % 3 == 0).T}),
    "complex128": lambda: ((), {"z": _complex()}),
    "structured": lambda: ((), _structured()),
    "object_pickled": lambda: ((), _objects()),
}


@pytest.fixture(scope="module")
def oracle():
    """(args, kwargs, numpy's archive) per input, built once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            args, kwargs = INPUTS[name]()
            raw, w, exc = save_bytes(np.savez_compressed, *args, **kwargs)
            assert exc is None and w == [], f"numpy failed on {name}: {exc!r} {w}"
            cache[name] = (args, kwargs, raw)
        return cache[name]
    return get


def _fz_save(fnpz, args, kwargs, level, threads):
    with fnpz.options(level=level, threads=threads):
        raw, w, exc = save_bytes(fnpz.savez_compressed, *args, **kwargs)
    assert exc is None, f"fastnpz raised {exc!r} (level={level}, threads={threads})"
    assert w == [], f"unexpected warnings {w} (level={level}, threads={threads})"
    return raw


def _assert_stored_blocks_only(comp, what):
    """A raw deflate stream made only of stored blocks (level 0), walked
    block by block: each starts byte-aligned after the previous one."""
    p, final = 0, False
    while not final:
        assert p + 5 <= len(comp), f"truncated stored block at {p} [{what}]"
        hdr = comp[p]
        assert (hdr >> 1) & 3 == 0, (
            f"level 0 wrote a non-stored block (type {(hdr >> 1) & 3}) at byte {p} [{what}]")
        final = bool(hdr & 1)
        ln, nln = struct.unpack_from("<HH", comp, p + 1)
        assert ln ^ nln == 0xFFFF, f"bad stored block LEN/NLEN at {p} [{what}]"
        p += 5 + ln
    assert p == len(comp), f"{len(comp) - p} bytes after the final stored block [{what}]"


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: f"level{lv}")
@pytest.mark.parametrize("name", list(INPUTS))
def test_level_matches_numpy_with_any_thread_count(fnpz, oracle, name, level):
    """One save per thread count: the archives must be byte-identical, and
    so one parity check against numpy's holds for all of them."""
    args, kwargs, np_raw = oracle(name)
    saved = {threads: _fz_save(fnpz, args, kwargs, level, threads) for threads in THREADS}
    what = f"{name} level={level}"
    first = saved[THREADS[0]]
    for threads in THREADS[1:]:
        assert_bytes_identical(first, saved[threads], what=f"{what}: threads={THREADS[0]} vs threads={threads}")
    # records, inflated (zlib.decompressobj(-15)) members == numpy's, testzip, np.load
    assert_full_parity(np_raw, first, what=what)
    if level == 0:
        for m in parse_zip(first).members:
            assert m.central.method == 8, f"level 0 still writes method 8 [{what}]"
            _assert_stored_blocks_only(m.compressed, f"{what} {m.central.name!r}")
