"""fastnpz.options / get_options / module metadata."""
import asyncio
import io
import os
import threading

import numpy as np
import pytest

from npz_inspect import assert_full_parity, parse_zip, save_bytes


def test_module_metadata(fnpz):
    assert isinstance(fnpz.__version__, str) and fnpz.__version__
    for name in ("savez", "savez_compressed", "options", "get_options"):
        assert name in fnpz.__all__, f"{name} missing from __all__"
        assert callable(getattr(fnpz, name))
    for name in fnpz.__all__:
        assert hasattr(fnpz, name), f"__all__ lists missing attribute {name}"


def test_defaults(fnpz):
    opts = fnpz.get_options()
    assert set(opts) == {"level", "threads", "progress"}, opts
    assert opts["progress"] is None, "no progress output by default"
    assert opts["level"] == 6, "default zlib level must be 6 like numpy/zipfile"
    assert type(opts["level"]) is int and type(opts["threads"]) is int
    assert opts["threads"] >= 1
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert opts["threads"] in {ncpu, os.cpu_count()}, (
        f"default threads {opts['threads']} should be all cores ({ncpu})")


def test_get_options_returns_a_copy(fnpz):
    d = fnpz.get_options()
    d["level"] = 1
    assert fnpz.get_options()["level"] == 6


def test_context_sets_and_restores(fnpz):
    before = fnpz.get_options()
    with fnpz.options(level=1, threads=1):
        assert fnpz.get_options() == {"level": 1, "threads": 1, "progress": None}
        with fnpz.options(level=9):
            assert fnpz.get_options() == {"level": 9, "threads": 1, "progress": None}, "threads inherited"
            with fnpz.options(threads=2):
                assert fnpz.get_options() == {"level": 9, "threads": 2, "progress": None}, "level inherited"
            assert fnpz.get_options() == {"level": 9, "threads": 1, "progress": None}
        assert fnpz.get_options() == {"level": 1, "threads": 1, "progress": None}
    assert fnpz.get_options() == before


def test_context_restores_after_exception(fnpz):
    before = fnpz.get_options()
    with pytest.raises(KeyError):
        with fnpz.options(level=0):
            raise KeyError("x")
    assert fnpz.get_options() == before


def test_options_none_means_unchanged(fnpz):
    with fnpz.options(level=3):
        with fnpz.options():
            assert fnpz.get_options()["level"] == 3
        with fnpz.options(level=None, threads=None):
            assert fnpz.get_options()["level"] == 3


@pytest.mark.parametrize("kw, exc", [
    ({"level": 10}, ValueError), ({"level": -1}, ValueError), ({"level": 100}, ValueError),
    ({"threads": 0}, ValueError), ({"threads": -2}, ValueError),
    ({"level": 1.5}, (TypeError, ValueError)), ({"level": "6"}, (TypeError, ValueError)),
    ({"threads": 2.0}, (TypeError, ValueError)), ({"threads": "2"}, (TypeError, ValueError)),
    ({"level": [1]}, (TypeError, ValueError)),
])
def test_invalid_values_raise_at_call_time(fnpz, kw, exc):
    before = fnpz.get_options()
    with pytest.raises(exc):
        fnpz.options(**kw)             # no `with`: must raise immediately
    assert fnpz.get_options() == before


def test_options_keyword_only(fnpz):
    with pytest.raises(TypeError):
        fnpz.options(6)
    with pytest.raises(TypeError):
        fnpz.options(compresslevel=6)


@pytest.mark.parametrize("level", range(10))
def test_every_level_matches_numpy_except_compressed_size(fnpz, level):
    a = (np.arange(50_000) % 300).astype("<i4")
    np_raw, _, _ = save_bytes(np.savez_compressed, a, t=a.reshape(100, 500).T)
    with fnpz.options(level=level):
        fz_raw, w, exc = save_bytes(fnpz.savez_compressed, a, t=a.reshape(100, 500).T)
    assert exc is None and w == []
    assert_full_parity(np_raw, fz_raw, what=f"level={level}")


def test_level_does_not_affect_savez(fnpz):
    a = np.arange(10_000)
    np_raw, _, _ = save_bytes(np.savez, a)
    for level in (0, 9):
        with fnpz.options(level=level, threads=1):
            fz_raw, _, _ = save_bytes(fnpz.savez, a)
        assert fz_raw == np_raw, f"savez output changed with level={level}"


def test_options_are_context_local_in_threads(fnpz):
    seen = {}

    def worker():
        seen["opts"] = fnpz.get_options()

    default = fnpz.get_options()
    with fnpz.options(level=2, threads=1):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["opts"] == default, "a new thread starts with the default context"


def test_options_follow_asyncio_tasks(fnpz):
    async def inner():
        return fnpz.get_options()

    async def main():
        with fnpz.options(level=4):
            inside = await asyncio.create_task(inner())
        outside = await asyncio.create_task(inner())
        return inside, outside

    inside, outside = asyncio.run(main())
    assert inside["level"] == 4
    assert outside["level"] == 6


def test_options_used_by_calls_inside_with(fnpz):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 30, 300_000).astype(np.uint8)
    sizes = {}
    for lv in (0, 9):
        with fnpz.options(level=lv):
            raw, _, _ = save_bytes(fnpz.savez_compressed, a)
        sizes[lv] = parse_zip(raw).members[0].central.csize
    raw, _, _ = save_bytes(fnpz.savez_compressed, a)     # outside: default level 6
    sizes["default"] = parse_zip(raw).members[0].central.csize
    assert sizes[0] > a.nbytes, f"level 0 must not compress: {sizes}"
    assert sizes[9] <= sizes["default"] < sizes[0], sizes


def test_concurrent_calls_from_threads(fnpz):
    """Concurrent saves with different options give the same result as
    serial saves."""
    arrs = [np.arange(200_000, dtype="<i8") * (i + 1) % 997 for i in range(4)]
    expected = []
    for i, a in enumerate(arrs):
        with fnpz.options(level=i % 3 + 1, threads=1 + i % 2):
            expected.append(save_bytes(fnpz.savez_compressed, a)[0])
    results = [None] * 4
    errors = []

    def run(i):
        try:
            with fnpz.options(level=i % 3 + 1, threads=1 + i % 2):
                results[i] = save_bytes(fnpz.savez_compressed, arrs[i])[0]
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for i in range(4):
        assert results[i] == expected[i], f"thread {i} produced a different archive"
