"""fastnpz.options / set_options / get_options / module metadata."""
import asyncio
import contextvars
import gc
import io
import os
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from npz_inspect import assert_full_parity, parse_zip, save_bytes


@pytest.fixture(autouse=True)
def _process_defaults_restored(fnpz):
    """Every test starts and ends with the built-in process-wide defaults."""
    old = fnpz.set_options(level=None, threads=None, progress=None)
    try:
        yield
    finally:
        fnpz.set_options(**old)


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


INVALID = [
    ({"level": 10}, ValueError, "level must be an integer from 0 to 9, got 10"),
    ({"level": -1}, ValueError, "level must be an integer from 0 to 9, got -1"),
    ({"level": 100}, ValueError, "level must be"),
    ({"threads": 0}, ValueError, "threads must be an integer of at least 1, got 0"),
    ({"threads": -2}, ValueError, "threads must be an integer of at least 1, got -2"),
    ({"level": 1.5}, TypeError, "level must be an integer from 0 to 9, not float (1.5)"),
    ({"level": "6"}, TypeError, "level must be an integer from 0 to 9, not str ('6')"),
    ({"level": True}, TypeError, "level must be an integer from 0 to 9, not a bool (True)"),
    ({"threads": 2.0}, TypeError, "threads must be an integer of at least 1, not float (2.0)"),
    ({"threads": "x"}, TypeError, "threads must be an integer of at least 1, not str ('x')"),
    ({"threads": False}, TypeError, "threads must be"),
    ({"level": [1]}, TypeError, "level must be an integer from 0 to 9, not list ([1])"),
    ({"progress": 5}, TypeError, "progress must be True, False, None or a callable"),
]


@pytest.mark.parametrize("kw, exc, message", INVALID)
def test_invalid_values_raise_at_call_time_naming_the_option(fnpz, kw, exc, message):
    before = fnpz.get_options()
    with pytest.raises(exc) as info:
        fnpz.options(**kw)             # no `with`: must raise immediately
    assert message in str(info.value)
    assert fnpz.get_options() == before


@pytest.mark.parametrize("kw, exc, message", INVALID)
def test_set_options_rejects_the_same_values_and_changes_nothing(fnpz, kw, exc, message):
    before = fnpz.get_options()
    with pytest.raises(exc) as info:
        fnpz.set_options(level=3, **kw) if "level" not in kw else fnpz.set_options(threads=1, **kw)
    assert message in str(info.value)
    assert fnpz.get_options() == before


def test_numpy_integers_are_accepted(fnpz):
    with fnpz.options(level=np.int8(3), threads=np.uint64(1)):
        opts = fnpz.get_options()
    assert opts["level"] == 3 and opts["threads"] == 1
    assert type(opts["level"]) is int and type(opts["threads"]) is int


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


def _worker_threads_during_save(fnpz, threads):
    """Most threads this process ran while one save was under way, less
    the threads before it (sampled from the progress callback, which runs
    on the calling thread every ~50 ms)."""
    before = len(os.listdir("/proc/self/task"))
    peak = [0]

    def sample(done, total):
        peak[0] = max(peak[0], len(os.listdir("/proc/self/task")) - before)

    data = np.random.default_rng(0).integers(0, 4, 4_000_000).astype(np.int64)  # 32 MB, ~0.5 s
    with fnpz.options(threads=threads, level=6, progress=sample):
        fnpz.savez_compressed(io.BytesIO(), a=data)
    return peak[0]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_threads_is_an_upper_bound_never_above_the_usable_cores(fnpz):
    """threads=10000 once started ~190 threads; it is a bound, and fastnpz
    never runs more workers than the usable cores."""
    with fnpz.options(threads=10_000):
        assert fnpz.get_options()["threads"] == 10_000
    cores = len(os.sched_getaffinity(0))
    extra = _worker_threads_during_save(fnpz, 10_000)
    assert 1 <= extra <= cores or cores == 1, f"{extra} worker threads on {cores} usable cores"
    assert _worker_threads_during_save(fnpz, 10**30) <= cores


def test_threads_bound_does_not_change_the_archive(fnpz):
    a = (np.arange(3_000_000) % 1000).astype("<i4")
    outs = []
    for threads in (1, 2, 10_000):
        with fnpz.options(threads=threads):
            outs.append(save_bytes(fnpz.savez_compressed, a)[0])
    assert outs[0] == outs[1] == outs[2]


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


# ---------------------------------------------------------------------------
# The context manager object: reusable, re-entrant, and never silently unused
# ---------------------------------------------------------------------------


def test_one_options_object_can_be_entered_again_and_nested(fnpz):
    fast = fnpz.options(level=1)
    for _ in range(3):
        with fast:
            assert fnpz.get_options()["level"] == 1
        assert fnpz.get_options()["level"] == 6
    with fast:
        with fnpz.options(level=9):
            with fast:
                assert fnpz.get_options()["level"] == 1
            assert fnpz.get_options()["level"] == 9
        assert fnpz.get_options()["level"] == 1
    assert fnpz.get_options()["level"] == 6


def test_one_options_object_shared_by_threads(fnpz):
    shared = fnpz.options(level=2, threads=1)
    barrier = threading.Barrier(4)
    seen, errors = [], []

    def work():
        try:
            barrier.wait()
            for _ in range(50):
                with shared:
                    seen.append(fnpz.get_options()["level"])
                seen.append(fnpz.get_options()["level"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert seen.count(2) == 200 and seen.count(6) == 200


def test_options_not_used_in_with_warns_that_it_did_nothing(fnpz):
    with pytest.warns(RuntimeWarning, match=r"never entered, so it changed nothing") as record:
        fnpz.options(level=1)  # the mistake: no `with`
        gc.collect()
    assert record[0].filename == __file__, "the warning points at the call"
    assert "fastnpz.options(level=1)" in str(record[0].message)
    assert "set_options" in str(record[0].message)
    assert fnpz.get_options()["level"] == 6


def test_options_entered_or_failing_validation_do_not_warn(fnpz):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manager = fnpz.options(level=1)
        with manager:
            pass
        del manager
        with pytest.raises(ValueError):
            fnpz.options(level=11)
        gc.collect()


def test_exit_without_enter_is_an_error(fnpz):
    manager = fnpz.options(level=1)
    with manager:
        pass
    with pytest.raises(RuntimeError, match="without a matching __enter__"):
        manager.__exit__(None, None, None)


def test_repr_names_the_settings(fnpz):
    manager = fnpz.options(level=3, threads=2)
    with manager:
        assert repr(manager) == "fastnpz.options(level=3, threads=2)"


# ---------------------------------------------------------------------------
# Process-wide defaults: set_options and the environment
# ---------------------------------------------------------------------------


def test_set_options_reaches_new_threads_and_executor_workers(fnpz):
    old = fnpz.set_options(level=2, threads=1)
    assert old == {"level": None, "threads": None, "progress": None}
    seen = {}

    def worker():
        seen["thread"] = fnpz.get_options()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    with ThreadPoolExecutor(2) as pool:
        seen["pool"] = pool.submit(fnpz.get_options).result()
    expected = {"level": 2, "threads": 1, "progress": None}
    assert seen == {"thread": expected, "pool": expected}


def test_set_options_changes_what_is_written(fnpz):
    a = (np.arange(400_000) % 251).astype(np.uint8)
    with fnpz.options(level=1):
        level1 = save_bytes(fnpz.savez_compressed, a)[0]
    fnpz.set_options(level=1)
    with ThreadPoolExecutor(1) as pool:
        from_pool = pool.submit(save_bytes, fnpz.savez_compressed, a).result()[0]
    assert from_pool == level1 == save_bytes(fnpz.savez_compressed, a)[0]


def test_with_block_wins_over_set_options_until_it_exits(fnpz):
    with fnpz.options(level=9):
        fnpz.set_options(level=1, threads=1)
        assert fnpz.get_options()["level"] == 9, "the block's own level still holds"
        assert fnpz.get_options()["threads"] == 1, "what the block does not set comes from the process"
    assert fnpz.get_options()["level"] == 1


def test_set_options_changes_only_what_is_passed_and_none_resets(fnpz):
    fnpz.set_options(level=3, threads=1)
    fnpz.set_options(level=4)
    assert fnpz.get_options()["threads"] == 1
    old = fnpz.set_options(threads=None)
    assert old == {"level": 4, "threads": 1, "progress": None}
    assert fnpz.get_options()["threads"] == len(os.sched_getaffinity(0))
    fnpz.set_options(level=None)
    assert fnpz.get_options()["level"] == 6
    progress = []
    fnpz.set_options(progress=lambda d, t: progress.append(d))
    fnpz.savez_compressed(io.BytesIO(), a=np.arange(10))
    assert progress
    fnpz.set_options(progress=False)
    assert fnpz.get_options()["progress"] is None


def test_set_options_returns_what_restores_it(fnpz):
    fnpz.set_options(level=2)
    old = fnpz.set_options(level=8, threads=1)
    fnpz.set_options(**old)
    assert fnpz.get_options()["level"] == 2
    assert fnpz.get_options()["threads"] == len(os.sched_getaffinity(0))


def test_with_block_settings_reach_a_pool_through_copy_context(fnpz):
    """What the options docstring recommends for executors."""
    with fnpz.options(level=4), ThreadPoolExecutor(1) as pool:
        plain = pool.submit(fnpz.get_options).result()
        copied = pool.submit(contextvars.copy_context().run, fnpz.get_options).result()
    assert plain["level"] == 6
    assert copied["level"] == 4


def _in_subprocess(code, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTNPZ_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120)


def test_environment_sets_the_process_defaults(fnpz, tmp_path):
    path = tmp_path / "env.npz"
    code = (
        "import sys, numpy as np, fastnpz; print(fastnpz.get_options()); "
        f"fastnpz.savez_compressed({str(path)!r}, a=(np.arange(400_000) % 251).astype(np.uint8))"
    )
    out = _in_subprocess(code, FASTNPZ_LEVEL="1", FASTNPZ_THREADS=" 1 ")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'level': 1, 'threads': 1, 'progress': None}"
    with fnpz.options(level=1):
        expected = save_bytes(fnpz.savez_compressed, a=(np.arange(400_000) % 251).astype(np.uint8))[0]
    assert path.read_bytes() == expected


def test_empty_environment_variables_mean_unset():
    out = _in_subprocess("import fastnpz; print(fastnpz.get_options()['level'])", FASTNPZ_LEVEL="", FASTNPZ_THREADS="")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6"


@pytest.mark.parametrize("variable, value, message", [
    ("FASTNPZ_LEVEL", "fast", "FASTNPZ_LEVEL='fast' is invalid: level must be an integer"),
    ("FASTNPZ_LEVEL", "12", "FASTNPZ_LEVEL='12' is invalid: level must be an integer from 0 to 9, got 12"),
    ("FASTNPZ_THREADS", "0", "FASTNPZ_THREADS='0' is invalid: threads must be an integer of at least 1"),
    ("FASTNPZ_THREADS", "2.5", "FASTNPZ_THREADS='2.5' is invalid: threads must be an integer"),
])
def test_invalid_environment_fails_the_import_naming_the_variable(variable, value, message):
    out = _in_subprocess("import fastnpz", **{variable: value})
    assert out.returncode != 0
    assert f"ValueError: environment variable {message}" in out.stderr, out.stderr
