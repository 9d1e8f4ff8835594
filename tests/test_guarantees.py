"""What fastnpz promises beyond numpy: a failed save never loses the file that
was at the target path, while everything numpy's open(path, "w+b") makes
visible (permissions, symlinks, special files) stays the same. numpy is the
oracle for the visible parts."""

from __future__ import annotations

import _thread
import io
import os
import signal
import stat
import threading
import time
import zipfile

import numpy as np
import pytest

import fastnpz


def _temp_files(directory):
    return [n for n in os.listdir(directory) if n.endswith(".fastnpz-tmp")]


@pytest.fixture
def big():
    # Slow to compress at level 9 but quick to make: ~200 MB of noise-free
    # structure keeps the save busy for well over the interrupt delay.
    rng = np.random.default_rng(0)
    return rng.integers(0, 4, size=25_000_000, dtype=np.int64)


@pytest.fixture
def python_handles_sigint():
    # A process started in the background by a shell without job control
    # inherits SIGINT ignored; Python then keeps it ignored, and
    # _thread.interrupt_main() does nothing. Ctrl-C is what is tested, so
    # give SIGINT Python's own handler for the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_interrupt_keeps_the_old_file_and_leaves_no_temp(tmp_path, big, python_handles_sigint):
    target = tmp_path / "keep.npz"
    target.write_bytes(b"precious")
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt), fastnpz.options(level=9, threads=2):
            # Inside the block: on a loaded machine the main thread can still
            # be waiting in Thread.start() when the timer fires.
            timer.start()
            fastnpz.savez_compressed(target, a=big)
            time.sleep(5)  # only reached if the save finished before the timer
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - start
    assert target.read_bytes() == b"precious"
    assert _temp_files(tmp_path) == []
    # Generous bound: the guarantee is 200 ms after the signal, CI is noisy.
    assert elapsed < 3.0, f"interrupt took {elapsed:.2f}s to be honoured"


def test_write_error_on_file_object_propagates_and_stops(tmp_path):
    class Failing:
        def __init__(self):
            self.written = 0

        def write(self, b):
            if self.written > 1000:
                raise OSError(28, "No space left on device")
            self.written += len(b)
            return len(b)

        def read(self):
            return b""

        def tell(self):
            return self.written

        def seek(self, pos, whence=0):
            return pos

        def flush(self):
            pass

    data = np.random.default_rng(1).standard_normal(3_000_000)
    results = []
    for save in (np.savez_compressed, fastnpz.savez_compressed):
        f = Failing()
        with pytest.raises(OSError) as info:
            save(f, a=data, b=data)
        results.append((type(info.value), info.value.errno))
    assert results[0] == results[1]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_raises_numpys_oserror(tmp_path):
    a = np.arange(100_000)
    full = tmp_path / "full.npz"  # savez appends .npz to "/dev/full" itself
    full.symlink_to("/dev/full")
    errors = []
    for save in (np.savez_compressed, fastnpz.savez_compressed):
        with pytest.raises(OSError) as info:
            save(full, a=a)
        errors.append((type(info.value), info.value.errno))
    assert errors[0] == errors[1]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_existing_file_keeps_its_permissions(tmp_path, mode):
    modes = []
    for save, name in ((np.savez_compressed, "np.npz"), (fastnpz.savez_compressed, "fz.npz")):
        path = tmp_path / name
        path.write_bytes(b"x")
        os.chmod(path, mode)
        save(path, a=np.arange(3))
        modes.append(stat.S_IMODE(os.stat(path).st_mode))
    assert modes[0] == modes[1] == mode


@pytest.mark.skipif(os.name != "posix", reason="POSIX umask")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_file_follows_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        np.savez_compressed(tmp_path / "np.npz", a=np.arange(3))
        fastnpz.savez_compressed(tmp_path / "fz.npz", a=np.arange(3))
    finally:
        os.umask(old)
    modes = [stat.S_IMODE(os.stat(tmp_path / n).st_mode) for n in ("np.npz", "fz.npz")]
    assert modes[0] == modes[1]


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_target_is_updated_and_link_kept(tmp_path):
    for save, tag in ((np.savez_compressed, "np"), (fastnpz.savez_compressed, "fz")):
        real = tmp_path / f"{tag}-real.npz"
        real.write_bytes(b"old")
        link = tmp_path / f"{tag}-link.npz"
        link.symlink_to(real.name)
        save(link, a=np.arange(5))
        assert link.is_symlink(), tag
        with np.load(real) as f:
            assert np.array_equal(f["a"], np.arange(5)), tag
    assert _temp_files(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_written_directly(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    # Open the read end before saving (non-blocking, so no writer is needed
    # yet): a reader that opens only after the writer has closed would find
    # the pipe's data gone and wait forever. The archive fits in the pipe.
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fastnpz.savez_compressed(fifo, a=np.arange(1000))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read()
    finally:
        os.close(fd)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        # An unseekable output: data descriptors, as numpy's zipfile writes.
        assert all(i.flag_bits & 0x08 for i in z.infolist())
        assert z.testzip() is None
    with np.load(io.BytesIO(data)) as f:
        assert np.array_equal(f["a"], np.arange(1000))


def test_dev_null_accepts_the_archive():
    fastnpz.savez_compressed(os.devnull, a=np.arange(10))
    assert os.path.exists(os.devnull)


@pytest.mark.skipif(os.name != "posix", reason="hard links")
def test_hard_linked_file_is_written_in_place_like_numpy(tmp_path):
    for save, tag in ((np.savez_compressed, "np"), (fastnpz.savez_compressed, "fz")):
        a = tmp_path / f"{tag}-a.npz"
        a.write_bytes(b"old")
        b = tmp_path / f"{tag}-b.npz"
        os.link(a, b)
        save(a, x=np.arange(4))
        assert os.path.samefile(a, b), tag
        with np.load(b) as f:
            assert np.array_equal(f["x"], np.arange(4)), tag
