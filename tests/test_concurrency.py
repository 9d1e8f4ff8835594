"""Many callers at once, arrays changing underneath, fork, and long loops:
every archive stays correct (numpy's decompressed bytes), nothing crashes,
hangs or leaks."""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import sys
import threading
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


def test_array_mutated_while_saving_gives_a_valid_archive():
    """The bytes may mix old and new values, as with numpy, but every CRC
    must match what was written (each chunk is read once, and a chunk primed
    with history that changed since it was written is compressed again)."""
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


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_soak_no_memory_or_fd_growth(tmp_path):
    rng = np.random.default_rng(3)
    inputs = [
        {"a": rng.standard_normal(5000)},
        {"b": np.array(["x", "yz"]), "c": np.arange(12).reshape(3, 4).T},
        {"d": np.array([1, "two", None], dtype=object)},
        {"e": rng.integers(0, 9, 200_000)},
    ]
    path = tmp_path / "soak.npz"

    def run(n: int) -> None:
        for i in range(n):
            kw = inputs[i % len(inputs)]
            if i % 2:
                fastnpz.savez_compressed(path, **kw)
            else:
                fastnpz.savez_compressed(io.BytesIO(), **kw)

    run(300)  # warm up allocators and caches
    gc.collect()
    fds = len(os.listdir("/proc/self/fd"))
    rss = _rss_kib()
    run(2000)
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= fds
    grown_mib = (_rss_kib() - rss) / 1024
    assert grown_mib < 20, f"RSS grew by {grown_mib:.1f} MiB over 2000 saves"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".fastnpz-tmp")] == []
