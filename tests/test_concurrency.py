"""Many callers at once, arrays changing underneath, fork, and long loops:
every archive stays correct (numpy's decompressed bytes), nothing crashes,
hangs or leaks."""

from __future__ import annotations

import ctypes
import gc
import io
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest

import fastnpz


def _members(buf: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(buf)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _save(func, **arrays) -> bytes:
    b = io.BytesIO()
    func(b, **arrays)
    return b.getvalue()


def test_sixteen_threads_each_get_their_own_correct_archive(tmp_path):
    rng = np.random.default_rng(7)
    inputs = [
        {
            "a": rng.standard_normal(300_000 + 1000 * i),
            "b": rng.integers(0, 50, size=(200, 300 + i)).T,  # non-contiguous
            "c": np.arange(i + 1),
        }
        for i in range(16)
    ]
    expected = [_members(_save(np.savez_compressed, **kw)) for kw in inputs]
    results: list[dict[str, bytes] | None] = [None] * 16
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def work(i: int) -> None:
        try:
            barrier.wait()
            path = tmp_path / f"t{i}.npz"
            fastnpz.savez_compressed(path, **inputs[i])
            results[i] = _members(path.read_bytes())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a save hung"
    assert not errors, errors
    for i in range(16):
        assert results[i] == expected[i], f"thread {i}: archive differs from numpy's"


def _run_threads(n: int, work) -> None:
    """``work(i)`` on ``n`` threads started together; re-raise the first error."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def _inputs(seed: int) -> dict[str, np.ndarray]:
    """Members on both sides of the 256 KiB line (inflated in parallel
    above it), a strided view, and a string array."""
    rng = np.random.default_rng(seed)
    return {
        "big": rng.standard_normal(150_000 + 1000 * seed),
        "ints": rng.integers(0, 9, size=(300, 200 + seed)).T,
        "small": np.arange(seed + 3, dtype=np.int16),
        "text": np.array([f"row {k}" for k in range(seed + 1)]),
    }


def test_threads_save_and_load_their_own_archives_at_once(tmp_path):
    """On free-threaded CPython this runs saves and loads truly at once:
    each archive has numpy's member bytes and each load numpy's arrays."""
    inputs = [_inputs(i) for i in range(8)]
    compressed = [_members(_save(np.savez_compressed, **kw)) for kw in inputs]
    stored = [_members(_save(np.savez, **kw)) for kw in inputs]

    def work(i: int) -> None:
        for _ in range(3):
            path = tmp_path / f"c{i}.npz"
            fastnpz.savez_compressed(path, **inputs[i])
            assert _members(path.read_bytes()) == compressed[i]
            buf = _save(fastnpz.savez, **inputs[i])
            assert _members(buf) == stored[i]
            for source in (path, io.BytesIO(buf)):
                with fastnpz.load(source) as f, np.load(source) as g:
                    assert f.files == g.files
                    for name in g.files:
                        np.testing.assert_array_equal(f[name], g[name])
                        assert f[name].dtype == g[name].dtype

    _run_threads(8, work)


def test_threads_share_one_npzfile(tmp_path):
    """Threads reading the members of one open NpzFile, in order (read
    ahead) and in reverse, each get numpy's arrays."""
    arrays = {f"{name}{k}": _inputs(k)[name] for k in range(6) for name in ("big", "ints")}
    path = tmp_path / "shared.npz"
    np.savez_compressed(path, **arrays)
    with np.load(path) as g:
        expected = {name: g[name] for name in g.files}
    with fastnpz.load(path) as f:

        def work(i: int) -> None:
            names = list(expected) if i % 2 == 0 else list(reversed(expected))
            for _ in range(3):
                for name in names:
                    np.testing.assert_array_equal(f[name], expected[name])

        _run_threads(6, work)


def test_threads_share_one_npzwriter(tmp_path):
    """Writes to one NpzWriter from several threads take turns: every member
    arrives, as numpy compresses it, and a name two threads race for is
    added once."""
    arrays = {f"t{i}_{j}": _inputs(i + j)["big"] for i in range(4) for j in range(4)}
    expected = _members(_save(np.savez_compressed, **arrays))
    duplicates: list[str] = []
    path = tmp_path / "shared.npz"
    with fastnpz.NpzWriter(path) as w:

        def work(i: int) -> None:
            for j in range(4):
                w.write(f"t{i}_{j}", arrays[f"t{i}_{j}"])
                try:
                    w.write("same", arrays["t0_0"])
                except ValueError as exc:
                    duplicates.append(str(exc))

        _run_threads(4, work)
    members = _members(path.read_bytes())
    assert members.pop("same.npy") == expected["t0_0.npy"]
    assert members == expected
    assert len(duplicates) == 15 and all("already in the archive" in d for d in duplicates)


def test_array_mutated_while_saving_gives_a_valid_archive():
    """The bytes may mix old and new values, as with numpy, but every CRC
    must match what was written (each chunk is read once, into the buffer its
    CRC and its compressed bytes both come from)."""
    a = np.zeros((2000, 2000))
    stop = threading.Event()

    def mutate() -> None:
        k = 0.0
        while not stop.is_set():
            a[:, ::7] = k
            k += 1

    t = threading.Thread(target=mutate)
    t.start()
    try:
        for _ in range(5):
            buf = _save(fastnpz.savez_compressed, a=a, view=a[::3, ::-2])
            with zipfile.ZipFile(io.BytesIO(buf)) as z:
                assert z.testzip() is None
            with np.load(io.BytesIO(buf)) as f:
                assert f["a"].shape == a.shape and f["view"].shape == a[::3, ::-2].shape
    finally:
        stop.set()
        t.join()


@pytest.mark.parametrize("which", ["array", "base of a view"])
def test_memory_cannot_be_freed_while_saving(which):
    """``resize(refcheck=False)`` from another thread would free the memory
    the writer reads; while the save runs, numpy refuses it (fastnpz holds a
    weak reference to the array that owns the memory), and afterwards it
    works again."""
    owner = np.random.default_rng(0).standard_normal(4_000_000)
    saved = owner if which == "array" else owner[::2]
    started, refused, allowed = threading.Event(), [], []

    def resize() -> None:
        started.wait()
        for _ in range(200):
            try:
                owner.resize(10, refcheck=False)
                allowed.append(True)
                return
            except ValueError:
                refused.append(True)

    def progress(done, total):
        started.set()
        time.sleep(0.01)

    t = threading.Thread(target=resize)
    t.start()
    with fastnpz.options(progress=progress, threads=1, level=9):
        buf = _save(fastnpz.savez_compressed, a=saved)
    t.join()
    assert refused, "the resize ran before the save had started"
    with zipfile.ZipFile(io.BytesIO(buf)) as z:
        assert z.testzip() is None
    # After the save, the array can be resized again.
    if not allowed:
        owner.resize(10, refcheck=False)
    assert owner.shape == (10,)


def _child(path: str, queue) -> None:
    try:
        fastnpz.savez_compressed(path, x=np.arange(100_000), y=np.eye(50)[::2])
        queue.put("ok")
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        queue.put(repr(exc))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_after_use_works_in_the_child(tmp_path):
    # Use fastnpz in the parent first (threads spun up and torn down).
    fastnpz.savez_compressed(io.BytesIO(), a=np.random.default_rng(0).standard_normal(2_000_000))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    path = str(tmp_path / "child.npz")
    p = ctx.Process(target=_child, args=(path, queue))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert queue.get(timeout=5) == "ok"
    ref = io.BytesIO()
    np.savez_compressed(ref, x=np.arange(100_000), y=np.eye(50)[::2])
    with open(path, "rb") as f:
        assert _members(f.read()) == _members(ref.getvalue())


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _settled_rss_kib() -> int:
    """RSS after a collection, with glibc's free lists handed back to the
    system, so that it follows live memory rather than allocator slack."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    return _rss_kib()


#: Saves per RSS sample, and samples after the warm-up.
_BATCH, _SAMPLES = 100, 12
#: Most RSS growth allowed per save, fitted over all samples. numpy's own
#: savez_compressed on the same loop grows by ~0.08 KiB per save (pickle's
#: caches); a leak of a few KiB per save shows as a slope well above this.
_MAX_KIB_PER_SAVE = 1.0


def soak(directory: str) -> dict[str, list[int]]:
    """The loop the soak test runs, in a fresh interpreter: fds before and
    after, and RSS after the warm-up and after every batch of saves."""
    rng = np.random.default_rng(3)
    inputs = [
        {"a": rng.standard_normal(5000)},
        {"b": np.array(["x", "yz"]), "c": np.arange(12).reshape(3, 4).T},
        {"d": np.array([1, "two", None], dtype=object)},
        {"e": rng.integers(0, 9, 200_000)},
    ]
    path = os.path.join(directory, "soak.npz")

    def run(n: int) -> None:
        for i in range(n):
            kw = inputs[i % len(inputs)]
            if i % 2:
                fastnpz.savez_compressed(path, **kw)
            else:
                fastnpz.savez_compressed(io.BytesIO(), **kw)

    run(300)  # warm up allocators and caches
    fds = [len(os.listdir("/proc/self/fd"))]
    rss = [_settled_rss_kib()]
    for _ in range(_SAMPLES):
        run(_BATCH)
        rss.append(_settled_rss_kib())
    fds.append(len(os.listdir("/proc/self/fd")))
    return {"fds": fds, "rss": rss}


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_soak_no_memory_or_fd_growth(tmp_path):
    """RSS must not grow with the number of saves: the slope of RSS over
    1500 saves, not a total allowance a small steady leak would fit in. A
    fresh interpreter with glibc's mmap threshold fixed (no dynamic
    threshold, so buffers of a MiB or more go straight back to the system)
    keeps the samples within a few KiB of each other."""
    code = (
        f"import json, sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
        f"import test_concurrency; print(json.dumps(test_concurrency.soak({str(tmp_path)!r})))"
    )
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["fds"][1] <= result["fds"][0], f"file descriptors grew: {result['fds']}"
    rss = result["rss"]
    slope = np.polyfit(np.arange(len(rss)) * _BATCH, rss, 1)[0]
    assert slope < _MAX_KIB_PER_SAVE, f"RSS grows by {slope:.2f} KiB per save (every {_BATCH} saves, KiB: {rss})"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".fastnpz-tmp")] == []
